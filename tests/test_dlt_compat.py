"""dlt's internals are touched in dlt_compat.py only: every other module imports dlt's top level."""

from __future__ import annotations

import ast
from pathlib import Path

import dlt

PACKAGE = Path(__file__).resolve().parent.parent / "class_source"


def _dlt_internals_used(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dlt."):
            found.append(f"{path.name}:{node.lineno} from {node.module}")
        elif isinstance(node, ast.Import):
            found += [f"{path.name}:{node.lineno} import {alias.name}" for alias in node.names if alias.name.startswith("dlt.")]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            # a private attribute of something that is not ours (self._x and module-private names are fine)
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("client", "pipeline", "destination", "trace"):
                found.append(f"{path.name}:{node.lineno} {owner.id}.{node.attr}")
    return found


def test_only_dlt_compat_reaches_into_dlt():
    modules = [path for path in PACKAGE.rglob("*.py") if path.name != "dlt_compat.py"]
    assert [use for path in sorted(modules) for use in _dlt_internals_used(path)] == []


def test_dlt_compat_itself_is_what_the_scan_finds():
    # the scan would see the compatibility module's own imports: it is able to fail
    assert any("from dlt.load.exceptions" in use for use in _dlt_internals_used(PACKAGE / "dlt_compat.py"))


def test_the_installed_dlt_is_the_minor_version_dlt_compat_was_checked_against():
    assert dlt.__version__.startswith("1.31.")
