"""``local.caches.reset_caches`` forgets every cache of the layer (and of ``ops``), found in the code, not listed here.

A cache is one of: a ``functools`` cache (``@lru_cache``, ``@cache``) of a module of ``beacon`` or ``ops``;
a module-level object of the project's own with a ``clear()`` (the API key cache); a module-level dict,
list or set that a function of its module changes, or a module-level name a function rebinds (``global``).
A new one fails these tests until the reset knows it.
"""

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import beacon
import ops
from beacon.observability import MetricUnit, metrics
from beacon.services import authenticate
from local.caches import reset_caches

MUTATORS = frozenset({"append", "add", "update", "setdefault", "pop", "popitem", "insert", "extend", "remove"})


def project_modules() -> list[ModuleType]:
    """Every module of the layer and of the operator commands (``ops.__main__``, which runs the CLI, aside)."""
    modules = [beacon, ops]
    for package in (beacon, ops):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not info.name.endswith("__main__"):
                modules.append(importlib.import_module(info.name))
    return modules


def defined_in(module: ModuleType) -> Iterator[tuple[str, Any]]:
    """What a module defines at its top level, and the members of its own classes."""
    for name, value in list(vars(module).items()):
        if inspect.isclass(value) and value.__module__ == module.__name__:
            yield from ((f"{name}.{member}", item) for member, item in list(vars(value).items()))
        yield name, value


def functools_caches() -> dict[str, Any]:
    return {
        f"{module.__name__}.{name}": value
        for module in project_modules()
        for name, value in defined_in(module)
        if hasattr(value, "cache_info") and getattr(value, "__module__", None) == module.__name__
    }


def cache_decorators(path: Path) -> int:
    names = {"cache", "lru_cache"}
    return sum(
        1
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for decorator in node.decorator_list
        for target in [decorator.func if isinstance(decorator, ast.Call) else decorator]
        if getattr(target, "id", None) in names or getattr(target, "attr", None) in names
    )


def changed_module_names(module: ModuleType) -> set[str]:
    """Module-level names that a function of the module changes in place or rebinds (``global``)."""
    tree = ast.parse(inspect.getsource(module))
    top_level = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    changed: set[str] = set()
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
        for node in ast.walk(function):
            if isinstance(node, ast.Global):
                changed.update(node.names)
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
                changed.add(getattr(node.value, "id", ""))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS:
                changed.add(getattr(node.func.value, "id", ""))
    return changed & top_level


def test_every_functools_cache_of_the_layer_and_ops_is_emptied():
    caches = functools_caches()
    # Given every cache the code declares (each decorator in the source is one found here)
    sources = [path for package in (beacon, ops) for path in Path(package.__path__[0]).rglob("*.py")]
    assert len(caches) == sum(cache_decorators(path) for path in sources), "a cache out of this test's reach"
    assert "beacon.settings.get_settings" in caches and "beacon.dal.aws.dynamodb_client" in caches
    # ... filled
    for name, cache in caches.items():
        assert not inspect.signature(cache).parameters, f"{name} takes arguments: teach this test to fill it"
        cache()
        assert cache.cache_info().currsize == 1, name
    # When the caches are reset, then every one is empty
    reset_caches()
    assert {name for name, cache in caches.items() if cache.cache_info().currsize} == set()


def test_every_module_level_cache_of_the_layer_and_ops_is_cleared(monkeypatch):
    cleared: list[str] = []
    sentinel = object()
    changed: dict[str, tuple[ModuleType, str]] = {}
    for module in project_modules():
        for name, value in list(vars(module).items()):
            if type(value).__module__.startswith(("beacon.", "ops.")) and callable(getattr(value, "clear", None)):
                # An object of ours with a clear(): the reset must call it
                original = value.clear
                monkeypatch.setattr(value, "clear", lambda o=original, n=f"{module.__name__}.{name}": cleared.append(n))
        changed.update({f"{module.__name__}.{name}": (module, name) for name in changed_module_names(module)})
    for module, name in changed.values():
        # A module-level value a function changes: a sentinel put in it (or in its place) must be gone after the reset
        value = getattr(module, name)
        if isinstance(value, dict):
            monkeypatch.setitem(value, sentinel, sentinel)
        elif isinstance(value, list | set):
            pytest.fail(f"{module.__name__}.{name}: teach this test to fill a {type(value).__name__}")
        else:
            monkeypatch.setattr(module, name, sentinel)

    reset_caches()

    assert cleared == ["beacon.services.authenticate.key_cache"]
    kept = [
        name
        for name, (module, attribute) in changed.items()
        if getattr(module, attribute) is sentinel
        or (isinstance(getattr(module, attribute), dict) and sentinel in getattr(module, attribute))
    ]
    assert kept == [], "module-level state that reset_caches leaves as it was"


class CountingKeys:
    def __init__(self) -> None:
        self.reads = 0

    def get(self, key_hash: str) -> None:
        self.reads += 1


def test_a_key_cached_before_the_reset_is_read_again_after_it():
    keys = CountingKeys()
    authenticate.key_cache.lookup("hash", keys, 60)
    authenticate.key_cache.lookup("hash", keys, 60)
    assert keys.reads == 1

    reset_caches()

    authenticate.key_cache.lookup("hash", keys, 60)
    assert keys.reads == 2


def test_unflushed_metrics_are_dropped_and_the_namespace_read_again(monkeypatch):
    metrics.add_metric(name="ChargesAccepted", unit=MetricUnit.Count, value=1)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Elsewhere")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "another-service")

    reset_caches()

    assert metrics.metric_set == {}
    assert (metrics.namespace, metrics.service) == ("Elsewhere", "another-service")
