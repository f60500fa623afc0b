"""``python -m fastce bench``'s argument checks: a bad value is refused
before any case runs (the results of a full run, minutes long, were lost
to a --json path that could not be written), with status 2 and a message
naming the option and what it expected."""
import pytest

from fastce.__main__ import main
from fastce._bench import cli


@pytest.fixture(autouse=True, scope="module")
def isa():
    """Once, not once per instruction set (conftest.py): nothing here runs a kernel."""
    yield None


@pytest.mark.parametrize("args, message", [
    (["--budget", "inf"], "--budget: must be a finite number > 0"),
    (["--budget", "abc"], "--budget: invalid positive number value: 'abc'"),
    (["--retries", "1.5"], "--retries: invalid non-negative integer value: '1.5'"),
    (["--threads", "1,abc"], "--threads: expected positive integers like 1,2; got 'abc'"),
    (["--threads", "0"], "--threads: expected positive integers like 1,2; got '0'"),
])
def test_bad_option_values_are_refused(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--quick", *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.fixture
def no_run(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a case ran before the options were checked")
    monkeypatch.setattr(cli, "_run_all", refuse)


def test_an_output_file_that_cannot_be_written_is_refused_before_the_run(tmp_path, capsys,
                                                                          no_run):
    missing = str(tmp_path / "no such folder" / "run.json")
    assert main(["bench", "--quick", "--filter", "logsumexp", "--json", missing]) == 2
    assert "--json" in capsys.readouterr().err
    made = tmp_path / "new.json"
    pytest.importorskip("matplotlib")
    for plot, what in ((str(tmp_path / "no such folder" / "a.png"), "cannot be written"),
                       (str(tmp_path / "chart.xyz"), "cannot write 'xyz' files")):
        assert main(["bench", "--quick", "--filter", "logsumexp", "--json", str(made),
                     "--plot", plot]) == 2
        assert what in capsys.readouterr().err
        assert not made.exists()  # (the check leaves no file behind)
    same = str(tmp_path / "run.png")
    assert main(["bench", "--quick", "--filter", "logsumexp", "--json", same, "--plot", same]) == 2
    assert "the same file" in capsys.readouterr().err
