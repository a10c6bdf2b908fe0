"""The API reference lists every public class and function of the package."""

import importlib
import inspect
import re
from pathlib import Path

import sklearn_mae

API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.rst"
PUBLIC_MODULES = ["plotting", "datasets", "evaluation", "persistence"]


def documented() -> set[str]:
    """Fully qualified names in the page's autosummary tables."""
    names, module = set(), "sklearn_mae"
    for line in API_PAGE.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"\.\. currentmodule:: ([\w.]+)", line):
            module = match.group(1)
        elif re.match(r"   [A-Za-z_]\w*$", line):
            names.add(f"{module}.{line.strip()}")
    return names


def public() -> set[str]:
    """The package's exports, and the functions each public module defines or lists."""
    names = {f"sklearn_mae.{name}" for name in sklearn_mae.__all__}
    for short in PUBLIC_MODULES:
        module = importlib.import_module(f"sklearn_mae.{short}")
        exported = getattr(module, "__all__", None) or [
            name for name, obj in vars(module).items()
            if not name.startswith("_") and inspect.isfunction(obj)
            and obj.__module__ == module.__name__]
        for name in exported:
            owner = getattr(module, name).__module__  # re-exports are documented at home
            names.add(f"{owner}.{name}")
    names.add("sklearn_mae.cli.main")
    return names


def test_every_public_name_is_in_the_api_reference():
    missing = public() - documented()
    assert not missing, f"add these to docs/api.rst: {sorted(missing)}"


def test_the_api_reference_names_only_what_exists():
    for name in documented():
        module, _, attribute = name.rpartition(".")
        assert hasattr(importlib.import_module(module), attribute), name
