"""Cold start: each function's module import in a fresh interpreter, against the floor of boto3 + one client + pydantic.

Each run is a new ``python`` with the environment Lambda gives the function (the template's variables,
``LAMBDA_TASK_ROOT``, a trace header), with the template's defaults and with ``TracingSubsegments=true``.
``cold_probe`` times the import of the handler module (wall and CPU), then the first request against a real
botocore client answered in memory. Rounds are interleaved so that noise on the machine hits every target alike;
the ratios use CPU time, which other processes do not stretch.
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

from benchmarks.functions import FunctionSpec, function_specs
from benchmarks.stats import median
from local.template import ROOT

PROBE = Path(__file__).resolve().parent / "cold_probe.py"
# The opt-in the template offers: Powertools' Tracer, with the X-Ray SDK, for subsegments in the traces.
SDK_SUBSEGMENTS = {"TracingSubsegments": "true"}
# The function whose cold start is also measured with the layer as SAM's python3.13 build method ships it.
BYTECODE_EXAMPLE = "CreateChargeFunction"
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
# What the python3.13 Lambda runtime itself provides, besides the layer.
RUNTIME_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)")


@dataclass
class ColdResult:
    """The runs of one target (a function or the floor); its figures are the medians of its runs."""

    name: str
    runs: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    answer: Any = None
    calls: dict[str, int] = field(default_factory=dict)
    heavy: list[tuple[str, float]] = field(default_factory=list)

    init = property(lambda self: median(self.runs["init_ms"]))
    init_cpu = property(lambda self: median(self.runs["init_cpu_ms"]))
    first_cpu = property(lambda self: median(self.runs["first_request_cpu_ms"]))


@dataclass
class ColdReport:
    """Every target's runs; ``floor`` is the reference."""

    runs: int
    floor: ColdResult
    functions: list[ColdResult]
    sdk: list[ColdResult] = field(default_factory=list)
    """The same functions with ``SDK_SUBSEGMENTS``."""
    without_bytecode: ColdResult | None = None
    """``BYTECODE_EXAMPLE``, its layer as SAM's ``python3.13`` build method ships it (``layer_without_bytecode``)."""


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@lru_cache(maxsize=1)
def _layer_modules() -> frozenset[str]:
    """Top-level modules of the virtualenv that the layer's distributions (its requirements.txt) install."""
    requirements = (ROOT / "layers" / "common" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    layer = {_normalize(re.split(r"[=<>~!; \[]", line, maxsplit=1)[0]) for line in requirements if line.strip()}
    return frozenset(m for m, dists in packages_distributions().items() if {_normalize(d) for d in dists} & layer)


@lru_cache(maxsize=1)
def modules_outside_layer() -> frozenset[str]:
    """Top-level modules of the virtualenv that neither the layer (its requirements.txt) nor the runtime has."""
    runtime = {_normalize(name) for name in RUNTIME_DISTRIBUTIONS}
    return frozenset(
        module
        for module, distributions in packages_distributions().items()
        if module not in _layer_modules()
        and not {_normalize(d) for d in distributions} & runtime
        and not module.startswith("_")
    )


def layer_without_bytecode(into: Path) -> Path:
    """The layer's modules copied into ``into`` as SAM's ``python3.13`` build method ships them: sources, no
    ``__pycache__`` (layers/common/Makefile adds the bytecode; Lambda mounts a layer read-only, where Python
    cannot write it)."""
    pydantic = importlib.util.find_spec("pydantic")
    assert pydantic is not None and pydantic.origin is not None, "pydantic is installed"
    site = Path(pydantic.origin).parents[1]  # the virtualenv's site-packages
    sources = [site / m for m in _layer_modules() if (site / m).is_dir()]
    sources += [site / f"{m}.py" for m in _layer_modules() if (site / f"{m}.py").is_file()]
    for source in [*sources, ROOT / "layers" / "common" / "beacon"]:
        if source.is_dir():
            shutil.copytree(source, into / source.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, into / source.name)
    return into


def lambda_environment(spec: FunctionSpec | None, layer: Path = ROOT / "layers" / "common") -> dict[str, str]:
    """The environment a Lambda execution environment gives the function (no AWS call ever leaves the machine),
    the layer's modules imported from ``layer``."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        **dict.fromkeys(("AWS_REGION", "AWS_DEFAULT_REGION"), "us-east-1"),
        **dict.fromkeys(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"), "bench"),
        **dict.fromkeys(("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"), os.devnull),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "_X_AMZN_TRACE_ID": TRACE_HEADER,
        "BENCH_ROOT": str(ROOT),
        "BENCH_BLOCKED": ",".join(sorted(modules_outside_layer())),
    }
    if spec is None:
        return env | {"PYTHONPATH": str(layer), "AWS_LAMBDA_FUNCTION_NAME": "floor"}
    code = str(spec.code_dir)
    paths = {"PYTHONPATH": os.pathsep.join([str(layer), code]), "LAMBDA_TASK_ROOT": code}
    return env | spec.environment | paths | {"AWS_LAMBDA_FUNCTION_NAME": spec.logical_id}


def _probe(
    spec: FunctionSpec | None, *options: str, first_request: bool = True, layer: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """One fresh interpreter running ``cold_probe`` on the function (the floor when ``None``); with ``layer``, the
    layer's modules are imported from there, and no bytecode is written."""
    args = ["floor"] if spec is None else [spec.module, spec.handler]
    args += [str(spec.event_file)] if spec and spec.event_file and first_request else []
    command = [sys.executable, *options, "-P", str(PROBE), *args]
    env = lambda_environment(spec)
    if layer is not None:
        env = lambda_environment(spec, layer) | {"PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=ROOT)


def probe_output(completed: subprocess.CompletedProcess[str], what: str, prefix: str = "{") -> dict[str, Any]:
    """The last line a probe process printed that starts with ``prefix``, as JSON (the end of its stderr in the
    error when it failed or printed none)."""
    lines = [line for line in completed.stdout.splitlines() if line.startswith(prefix)]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"{what} failed:\n{completed.stderr[-2000:]}")
    outcome: dict[str, Any] = json.loads(lines[-1])
    return outcome


def import_profile(spec: FunctionSpec | None) -> dict[str, float]:
    """``python -X importtime``: module -> self time in ms (importtime's own overhead inflates every figure)."""
    profile: dict[str, float] = defaultdict(float)
    for match in _IMPORTTIME.finditer(_probe(spec, "-X", "importtime", first_request=False).stderr):
        profile[match.group(3)] += int(match.group(1)) / 1000
    return profile


def _group(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "aws_lambda_powertools":
        return ".".join(parts[:3])
    if parts[0] == "beacon":
        return "beacon (own modules: pydantic models built at import)"
    return parts[0]


def heavy_beyond_floor(profile: dict[str, float], floor: dict[str, float], top: int = 8) -> list[tuple[str, float]]:
    """What a function imports that the floor does not, grouped by package, heaviest first."""
    extra: dict[str, float] = {}
    for module, self_ms in profile.items():
        if module not in floor:
            extra[_group(module)] = extra.get(_group(module), 0.0) + self_ms
    heaviest = sorted(extra.items(), key=lambda pair: -pair[1])[:top]
    return [(name, round(ms, 1)) for name, ms in heaviest]


def _record(target: ColdResult, outcome: dict[str, Any]) -> None:
    for name in ("init_ms", "init_cpu_ms", "first_request_ms", "first_request_cpu_ms"):
        target.runs[name] += [outcome[name]] if name in outcome else []
    target.answer, target.calls = outcome.get("answer", target.answer), outcome.get("calls", target.calls)


def measure(runs: int, *, profile: bool = True) -> ColdReport:
    """``runs`` interleaved rounds over the floor, every function of the template, each with ``SDK_SUBSEGMENTS``,
    and ``BYTECODE_EXAMPLE`` with its layer without bytecode."""
    specs, sdk_specs = function_specs(), function_specs(SDK_SUBSEGMENTS)
    floor = ColdResult("floor: import boto3, one DynamoDB client, import pydantic")
    results = {spec.logical_id: ColdResult(spec.logical_id) for spec in specs}
    sdk = {spec.logical_id: ColdResult(spec.logical_id) for spec in sdk_specs}
    uncompiled = ColdResult(BYTECODE_EXAMPLE)
    targets: list[tuple[FunctionSpec | None, ColdResult, bool]] = [(None, floor, False)]
    targets += [(spec, results[spec.logical_id], False) for spec in specs]
    targets += [(spec, sdk[spec.logical_id], False) for spec in sdk_specs]
    targets += [(spec, uncompiled, True) for spec in specs if spec.logical_id == BYTECODE_EXAMPLE]
    with tempfile.TemporaryDirectory(prefix="beacon-layer-") as scratch:
        layer = layer_without_bytecode(Path(scratch))
        for _ in range(runs):
            for spec, target, sources_only in targets:
                what = f"cold-start probe of {spec.logical_id if spec else 'floor'}"
                _record(target, probe_output(_probe(spec, layer=layer if sources_only else None), what, '{"init_ms"'))
    report = ColdReport(runs=runs, floor=floor, functions=list(results.values()), sdk=list(sdk.values()))
    report.without_bytecode = uncompiled
    if profile:
        floor_profile = import_profile(None)
        for spec in specs:
            results[spec.logical_id].heavy = heavy_beyond_floor(import_profile(spec), floor_profile)
    return report
