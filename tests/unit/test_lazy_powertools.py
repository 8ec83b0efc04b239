"""``import beacon`` makes the ``__init__`` of Powertools' heaviest packages lazy: the same names, the same objects.

Each check runs in a fresh interpreter, since a package is imported once per process: one that imports
``beacon`` first and one that does not.
"""

import json
import os
import subprocess
import sys
from functools import cache

import pytest

from beacon import LAZY_PACKAGES, _exported_names
from local.template import ROOT

NAMES = """
import importlib, json, sys
if sys.argv[1] == "lazy":
    import beacon
found = {}
for package in sys.argv[2:]:
    module = importlib.import_module(package)
    loaded = sorted(name for name in sys.modules if name.startswith(package + "."))
    found[package] = {
        "all": sorted(module.__all__),
        "loaded on import": loaded,
        "objects": {name: f"{getattr(module, name).__module__}.{getattr(module, name).__qualname__}"
                    for name in module.__all__},
    }
print(json.dumps(found))
"""


@cache
def names(mode: str, package: str) -> dict[str, object]:
    """The package's names and what importing it loaded, in a fresh interpreter (``beacon`` first when lazy)."""
    run = subprocess.run(
        [sys.executable, "-c", NAMES, mode, package],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT)])},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found: dict[str, object] = json.loads(run.stdout)[package]
    return found


@pytest.mark.parametrize("package", sorted(LAZY_PACKAGES))
def test_every_name_of_the_package_is_the_same_object_lazily(package):
    eager, lazy = names("eager", package), names("lazy", package)
    assert lazy["all"] == eager["all"]
    assert lazy["objects"] == eager["objects"]


@pytest.mark.parametrize("package", sorted(LAZY_PACKAGES))
def test_importing_the_package_no_longer_imports_all_of_it(package):
    assert names("eager", package)["loaded on import"]
    assert names("lazy", package)["loaded on import"] == []


def test_a_package_whose_init_does_more_than_import_runs_it_as_usual():
    assert _exported_names("p", 'from .a import A\n__all__ = ["A"]') == ({"A": ("p.a", "A")}, ["A"])
    assert _exported_names("p", "from .a import A\nA.patch()\n") is None
