"""docs/benchmarks.json: the figures of a benchmark run, machine-readable, for the capacity model.

``make bench`` writes it beside docs/benchmarks.md. A part that a run did not measure (``--only``, or a
part that failed) keeps the figures of the run that last measured it, and the file says which run each
part comes from. The committed file holds the committed docs/benchmarks.md run, so that
``make capacity`` works on a fresh clone without benchmarking anything.
"""

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.stats import percentile

if TYPE_CHECKING:
    from benchmarks.report import Results

FIGURES_FILE = "benchmarks.json"
FORMAT = 1


def as_figures(results: "Results") -> dict[str, Any]:
    """The parts ``results`` measured, each with the run it comes from."""
    run = {"when": results.machine.when, "machine": results.machine.describe(), "quick": results.quick}
    parts: dict[str, Any] = {}
    if cold := results.cold:
        times = {f.name: {"init_cpu_ms": f.init_cpu, "first_request_cpu_ms": f.first_cpu} for f in cold.functions}
        sdk = {f.name: {"init_cpu_ms": f.init_cpu, "first_request_cpu_ms": f.first_cpu} for f in cold.sdk}
        parts["cold"] = {"floor_init_cpu_ms": cold.floor.init_cpu, "functions": times, "with_sdk_subsegments": sdk}
        if (uncompiled := cold.without_bytecode) is not None and uncompiled.runs["init_cpu_ms"]:
            parts["cold"]["layer_without_bytecode"] = {uncompiled.name: {"init_cpu_ms": uncompiled.init_cpu}}
    if results.warm:
        cases = {
            c.name: {"charges": c.charges, "handler_cpu_ms": c.real_ms, "calls": c.real_calls} for c in results.warm
        }
        parts["warm"] = {"mode": "boto3 client answered in memory", "cases": cases}
    if capacity := results.capacity:
        scenarios = {s.name: vars(s.measured) | {"note": s.note} for s in capacity.scenarios}
        listing = {"customers": capacity.listing.charges, "read_units": capacity.listing.read_units}
        loyal = [dataclasses.asdict(phase) for phase in capacity.loyal]
        names = ("day_charges", "day_customers", "day_requests", "stream_batch_size")
        day = {name: getattr(capacity, name) for name in names}
        parts["dynamodb"] = {**day, "scenarios": scenarios, "listing": listing, "loyal": loyal}
    if results.recompute and results.concurrency:
        parts["stream"] = {name: dataclasses.asdict(getattr(results, name)) for name in ("recompute", "concurrency")}
    if results.erasure:
        parts["erasure"] = dataclasses.asdict(results.erasure)
    if logs := results.logs:
        cases = {
            c.name: {"function": c.function, "status": c.status, "bytes": c.bytes, "lines": c.lines} for c in logs.cases
        }
        bytes_beside = {"platform_bytes": logs.platform_bytes, "access_log_bytes": logs.access_log_bytes}
        parts["logs"] = {"cases": cases, **bytes_beside}
    if load := results.load:
        lag = {f"lag_p{pct}_ms": percentile(load.lag_ms, pct) for pct in (50, 99)}
        parts["load"] = {"batching_window_seconds": load.batching_window, **lag}
    return {name: {"run": run, **part} for name, part in parts.items()}


def read(path: Path) -> dict[str, Any]:
    """The figures file (an empty one when it does not exist)."""
    if not path.exists():
        return {"format": FORMAT, "parts": {}}
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if document.get("format") != FORMAT:
        raise ValueError(f"{path}: figures format {document.get('format')!r}, expected {FORMAT}")
    return document


def write(results: "Results", out_dir: Path) -> Path:
    """Merge this run's parts into ``out_dir``/benchmarks.json; the parts it did not measure stay as they were."""
    path = out_dir / FIGURES_FILE
    document = read(path)
    document["parts"].update(as_figures(results))
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
