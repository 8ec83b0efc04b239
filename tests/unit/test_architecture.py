"""The import rule of docs/design.md, read from the source (every import, lazy ones included).

Inside the layer (``beacon``): ``models`` import nothing of beacon but ``errors``; ``logic`` -> ``models``;
``dal`` -> ``models``; ``services`` -> ``logic``, ``dal``, ``models``; ``api`` -> ``services``, ``models``;
handlers (``functions/*/app.py``) -> ``services``, ``api``, ``models``, ``events``. ``errors``, ``settings``,
``observability`` and ``events`` sit at the top level for whoever the table below lets in. Operator code (``ops``) may
import anything of beacon, and the layer holds exactly what the functions import.
"""

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "common"
PACKAGE = LAYER / "beacon"

# What each part of the layer may import from beacon (a part may always import its own modules).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "settings": set(),
    "observability": set(),
    "events": set(),
    "models": {"errors"},
    "logic": {"errors", "models"},
    "dal": {"errors", "models"},
    "services": {"errors", "models", "logic", "dal", "settings", "observability"},
    "api": {"errors", "models", "services", "observability"},
    "handlers": {"errors", "models", "services", "api", "observability", "events"},
}
OUTSIDE_THE_LAYER = ("ops", "local", "tests", "benchmarks", "functions", "scripts")


def module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def layer_modules() -> dict[str, Path]:
    return {module_name(path, LAYER): path for path in sorted(PACKAGE.rglob("*.py"))}


def handler_files() -> list[Path]:
    return sorted((ROOT / "functions").glob("*/app.py"))


@cache
def imports_of(path: Path) -> tuple[str, ...]:
    return tuple(_imports_of(path))


def _imports_of(path: Path) -> Iterator[str]:
    """Every module a file imports, at the top or inside a function, ``from beacon import x`` resolved to beacon.x."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            assert node.module is not None
            yield node.module
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                if candidate in layer_modules() or candidate.split(".")[0] in OUTSIDE_THE_LAYER:
                    yield candidate


def beacon_imports(path: Path) -> set[str]:
    return {name for name in imports_of(path) if name == "beacon" or name.startswith("beacon.")}


def part_of(module: str) -> str:
    """``beacon.dal.charges`` -> ``dal``; ``beacon.api`` -> ``api``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "beacon"


def test_the_layer_has_the_parts_the_rule_names():
    parts = {part_of(name) for name in layer_modules()} - {"beacon"}
    assert parts == set(ALLOWED) - {"handlers"}


@pytest.mark.parametrize("module", sorted(layer_modules()))
def test_each_module_of_the_layer_imports_only_what_its_part_may(module):
    part = part_of(module)
    allowed = ALLOWED.get(part, set()) | {part}
    refused = {name for name in beacon_imports(layer_modules()[module]) if part_of(name) not in allowed}
    assert not refused, f"{module} ({part}) may import {sorted(allowed)} of beacon, not {sorted(refused)}"


@pytest.mark.parametrize("module", sorted(layer_modules()))
def test_the_layer_imports_nothing_outside_it(module):
    outside = {name for name in imports_of(layer_modules()[module]) if name.split(".")[0] in OUTSIDE_THE_LAYER}
    assert not outside, f"{module} imports {sorted(outside)}: the layer must stand on its own"


@pytest.mark.parametrize("handler", handler_files(), ids=lambda path: path.parent.name)
def test_handlers_import_use_cases_and_the_api_only(handler):
    refused = {name for name in beacon_imports(handler) if part_of(name) not in ALLOWED["handlers"]}
    assert not refused, f"{handler.parent.name} may import {sorted(ALLOWED['handlers'])} of beacon, not {refused}"
    outside = {name for name in imports_of(handler) if name.split(".")[0] in OUTSIDE_THE_LAYER}
    assert not outside, f"{handler.parent.name} imports {sorted(outside)}"


def test_the_layer_holds_exactly_what_the_functions_import():
    # Given every beacon module reachable from a handler (with the packages that hold them)
    modules = layer_modules()
    reached: set[str] = set()
    pending = [name for handler in handler_files() for name in beacon_imports(handler)]
    while pending:
        name = pending.pop()
        for package in (".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)):
            if package in modules and package not in reached:
                reached.add(package)
                pending.extend(beacon_imports(modules[package]))
    # Then nothing else ships in the layer: operator code lives in ops/, outside it
    assert set(modules) - reached == set(), "modules of the layer that no function imports (move them to ops/)"


def test_nothing_imports_the_scripts_folder():
    sources = [path for folder in ("ops", "local", "benchmarks", "tests") for path in (ROOT / folder).rglob("*.py")]
    offenders = [
        str(path.relative_to(ROOT)) for path in sources if any(n.startswith("scripts") for n in imports_of(path))
    ]
    assert offenders == []
