"""The examples in the package's docstrings run, as part of the suite (a doctest that never runs
is a promise nobody checks)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import assistant

MODULES = sorted(m.name for m in pkgutil.walk_packages(assistant.__path__, "assistant."))


def test_every_module_is_collected():
    expected = {"assistant.cite", "assistant.retrieve.query", "assistant.compose.evidence", "assistant.text"}
    assert expected <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
