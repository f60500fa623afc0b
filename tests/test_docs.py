"""Every Examples block in the public docstrings runs and prints what it says."""
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
