"""Every Examples block in the public docstrings runs and prints what it says,
and the README's Python blocks run."""
import doctest
import importlib

import pytest

MODULES = ["fastce", "fastce._softmax", "fastce._softmax_ce", "fastce._sigmoid_ce",
           "fastce._prob_ce", "fastce._metrics", "fastce._config", "fastce.reference"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def _readme_python_blocks():
    import pathlib
    import re
    text = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("block", range(len(_readme_python_blocks())))
def test_readme_examples_run(block):
    """The README's Python blocks run as a user would paste them."""
    exec(compile(_readme_python_blocks()[block], f"README.md block {block}", "exec"), {})
