"""The layers of ARCHITECTURE.md, checked: nothing imports upward, and the reference venue imports nothing
of the harness (so it stays an independent oracle)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "conformance"

# Lower layers first; a module may import modules of its own layer or below.
LAYERS: list[set[str]] = [
    {"model"},
    {"resources", "yamlsource", "fieldpath", "credentials", "facts", "events"},
    {"contract", "expressions", "scope"},
    {"cases", "case_rules", "profiles", "markets_file", "markets", "signing", "clock", "specs", "placement"},
    {"checks", "wire", "readback", "planning", "scheduler"},
    {"execution", "session", "guard"},
    {"engine", "builtin", "targets"},
    {"generated"},
    {"results", "junit", "report", "artifacts", "terminal"},
    {"cli", "pytest_plugin", "replay"},
]
LAYER_OF = {name: index for index, names in enumerate(LAYERS) for name in names}


def _top(module: str) -> str | None:
    """``conformance.report.html`` -> ``report``; None for anything outside the harness."""
    parts = module.split(".")
    return parts[1] if parts[0] == "conformance" and len(parts) > 1 else None


def _imports(path: Path) -> set[str]:
    return _imports_of(path.read_text(encoding="utf-8"), path)


def _imports_of(source: str, path: Path) -> set[str]:
    tree = ast.parse(source)
    found: set[str] = set()
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names if module == "conformance")
    return found


def upward(own: str, imports: set[str]) -> list[str]:
    """The harness modules among ``imports`` that sit in a higher layer than ``own``."""
    return sorted(
        module
        for module in imports
        if (name := _top(module)) is not None and name != "venue" and LAYER_OF.get(name, -1) > LAYER_OF[own]
    )


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "venue" not in p.relative_to(PACKAGE).parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_higher_layer(path: Path) -> None:
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    if own == "__init__":
        return
    assert own in LAYER_OF, f"{own} is in no layer of tests/test_architecture.py (and ARCHITECTURE.md)"
    found = upward(own, _imports(path))
    assert not found, f"{own} (layer {LAYER_OF[own]}) imports upward: {found}"


def test_the_check_sees_absolute_relative_and_from_package_imports() -> None:
    module = PACKAGE / "report" / "fake.py"  # only its place in the package matters
    source = "from conformance import engine\nfrom ..cli import main\nimport conformance.model\n"
    imports = _imports_of(source, module)
    assert {"conformance.engine", "conformance.cli", "conformance.model"} <= imports
    assert upward("report", imports) == ["conformance.cli"]
    assert upward("model", imports) == ["conformance.cli", "conformance.engine"]


def test_only_the_shells_and_the_built_in_target_use_the_reference_venue() -> None:
    users = {
        path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for path in _modules()
        if any(module.startswith("conformance.venue") for module in _imports(path))
    }
    assert users <= {"builtin", "targets", "cli", "pytest_plugin"}, users


@pytest.mark.parametrize("path", sorted((PACKAGE / "venue").rglob("*.py")), ids=lambda p: p.name)
def test_the_reference_venue_imports_nothing_of_the_harness(path: Path) -> None:
    harness = sorted(
        m for m in _imports(path) if m.startswith("conformance") and not m.startswith("conformance.venue")
    )
    assert not harness, f"{path.name} imports {harness}"
