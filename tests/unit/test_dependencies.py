"""The operator commands' dependencies are declared as theirs: the ``ops`` group of pyproject.toml, outside the layer.

What ``ops/`` imports when it runs (``TYPE_CHECKING`` imports aside) must come from the project's own
dependencies (the layer's) or the ``ops`` group, as uv.lock resolves them; the layer's requirements,
generated from the lock without any group (``make check-requirements``), hold none of the group's own.
"""

import ast
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

from local.template import ROOT

FIRST_PARTY = {"beacon", "ops", "local", "tests", "benchmarks", "functions"}


def runtime_imports(path: Path) -> Iterator[str]:
    """The top-level names a file imports, leaving out those under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and getattr(block.test, "id", None) == "TYPE_CHECKING"
        for statement in block.body
        for node in ast.walk(statement)
    }
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def normalized(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def locked_closure(*groups: str) -> set[str]:
    """The distributions uv.lock installs for the project's dependencies and ``groups`` (extras included)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    packages = {package["name"]: package for package in lock["package"]}
    project = next(package for package in lock["package"] if package.get("source", {}).get("virtual") == ".")
    pending = list(project.get("dependencies", []))
    for group in groups:
        pending.extend(project.get("dev-dependencies", {}).get(group, []))
    reached: set[str] = set()
    while pending:
        entry = pending.pop()
        package = packages[entry["name"]]
        for extra in entry.get("extra", []):
            pending.extend(package.get("optional-dependencies", {}).get(extra, []))
        if entry["name"] not in reached:
            reached.add(entry["name"])
            pending.extend(package.get("dependencies", []))
    return reached


def test_what_ops_imports_at_run_time_is_the_layers_or_the_ops_groups():
    distributions = packages_distributions()
    third_party = {
        name
        for path in (ROOT / "ops").rglob("*.py")
        for name in runtime_imports(path)
        if name not in sys.stdlib_module_names and name not in FIRST_PARTY
    }
    declared = locked_closure("ops")
    undeclared = {
        name: distributions.get(name)
        for name in third_party
        if not {normalized(d) for d in distributions.get(name, [name])} & declared
    }
    assert {"boto3", "requests", "rich"} <= third_party  # what the check is about is still imported
    assert undeclared == {}, "ops imports these without the ops group (or the layer) declaring them"


def test_the_ops_group_stays_out_of_the_layers_requirements():
    requirements = (ROOT / "layers" / "common" / "requirements.txt").read_text(encoding="utf-8")
    pinned = {normalized(line.split("==")[0]) for line in requirements.splitlines() if "==" in line}
    assert pinned, "the layer's requirements pin nothing"
    assert not {"requests", "rich"} & pinned
    assert pinned <= locked_closure()  # the layer's requirements come from the project's dependencies alone
