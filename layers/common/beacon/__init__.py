"""Shared code of the Beacon charges API: models, domain logic and data access.

Importing ``beacon`` first makes some of Powertools' package imports lazy (``LAZY_PACKAGES``). Their
``__init__`` modules import every class of the package: ``event_handler`` every resolver (AppSync's
brings ``asyncio``), ``utilities.data_classes`` every event source's class, ``event_handler.openapi`` the
merging of several functions' OpenAPI schemas. A function uses one resolver and one event class, and no
merge; the rest was most of what its cold start spent in Powertools (docs/benchmarks.md). Here such a
package's ``__init__`` is not run when the package is imported: its submodules import as usual, and a name
that the ``__init__`` would have imported (``from aws_lambda_powertools.event_handler import Response``) is
imported from the submodule the ``__init__`` names, on first use. The names and their objects are the same
either way (a test holds it); only what is loaded differs. This is why the handlers import from ``beacon``
only: ``beacon`` must be imported before Powertools' packages are.
"""

import ast
import sys
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder
from importlib.util import resolve_name
from types import ModuleType
from typing import Any

LAZY_PACKAGES = frozenset(
    {
        "aws_lambda_powertools.event_handler",
        "aws_lambda_powertools.event_handler.openapi",
        "aws_lambda_powertools.utilities.data_classes",
    }
)


def _exported_names(package: str, source: str) -> tuple[dict[str, tuple[str, str]], list[str]] | None:
    """What the package's ``__init__`` imports (name -> (module, name there)) and its ``__all__``; ``None`` when
    the ``__init__`` does anything else (it then runs as usual)."""
    names: dict[str, tuple[str, str]] = {}
    public: list[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            module = resolve_name("." * node.level + (node.module or ""), package) if node.level else node.module
            names.update({alias.asname or alias.name: (str(module), alias.name) for alias in node.names})
        elif isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]:
            public = list(ast.literal_eval(node.value))
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):  # the docstring
            return None
    return names, public or sorted(names)


class _LazyInitLoader(Loader):
    """Creates the package with its ``__path__`` (so that its submodules import) and defers its ``__init__``."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def __getattr__(self, name: str) -> Any:  # get_source, get_resource_reader...: the package's own loader's
        return getattr(self.loader, name)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        found = _exported_names(module.__name__, self.loader.get_source(module.__name__))
        if found is None:
            self.loader.exec_module(module)
            return
        exported, public = found

        def __getattr__(name: str) -> Any:
            if name not in exported:
                raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
            origin, attribute = exported[name]
            __import__(origin)  # the import statement's own path (what `python -X importtime` reports)
            value = getattr(sys.modules[origin], attribute)
            setattr(module, name, value)
            return value

        module.__dict__.update(__getattr__=__getattr__, __all__=public)


class _LazyInitFinder(MetaPathFinder):
    """Finds ``LAZY_PACKAGES`` where the import system would, and hands them to ``_LazyInitLoader``."""

    def find_spec(self, fullname: str, path: Any = None, target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname not in LAZY_PACKAGES:
            return None
        spec = PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "get_source"):
            return spec
        spec.loader = _LazyInitLoader(spec.loader)
        return spec


if not any(isinstance(finder, _LazyInitFinder) for finder in sys.meta_path):
    sys.meta_path.insert(0, _LazyInitFinder())
