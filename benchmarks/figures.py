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

if TYPE_CHECKING:
    from benchmarks.report import Results

FIGURES_FILE = "benchmarks.json"
FORMAT = 1


def _run_of(results: "Results") -> dict[str, Any]:
    return {
        "when": results.machine.when,
        "machine": results.machine.describe(),
        "quick": results.quick,
    }


def as_figures(results: "Results") -> dict[str, Any]:
    """The parts ``results`` measured, each with the run it comes from."""
    run = _run_of(results)
    parts: dict[str, Any] = {}
    if results.cold:
        parts["cold"] = {
            "run": run,
            "floor_init_cpu_ms": results.cold.floor.init_cpu,
            "functions": {
                f.name: {"init_cpu_ms": f.init_cpu, "first_request_cpu_ms": f.first_cpu} for f in results.cold.functions
            },
            "with_sdk_subsegments": {
                f.name: {"init_cpu_ms": f.init_cpu, "first_request_cpu_ms": f.first_cpu} for f in results.cold.sdk
            },
        }
    if results.warm:
        parts["warm"] = {
            "run": run,
            "mode": "boto3 client answered in memory",
            "cases": {
                c.name: {"charges": c.charges, "handler_cpu_ms": c.real_ms, "calls": dict(c.real_calls)}
                for c in results.warm
            },
        }
    if results.capacity:
        parts["dynamodb"] = {
            "run": run,
            "stream_batch_size": results.capacity.stream_batch_size,
            "day_charges": results.capacity.day_charges,
            "day_customers": results.capacity.day_customers,
            "day_requests": results.capacity.day_requests,
            "scenarios": {
                s.name: {
                    "charges": s.measured.charges,
                    "requests": dict(s.measured.requests),
                    "write_units": s.measured.write_units,
                    "read_units": s.measured.read_units,
                    "by_type": dict(s.measured.by_type),
                    "note": s.note,
                }
                for s in results.capacity.scenarios
            },
            "listing": {
                "customers": results.capacity.listing.charges,
                "read_units": results.capacity.listing.read_units,
            },
            "loyal": [dataclasses.asdict(phase) for phase in results.capacity.loyal],
        }
    if results.recompute and results.concurrency:
        parts["stream"] = {
            "run": run,
            "recompute": dataclasses.asdict(results.recompute),
            "concurrency": dataclasses.asdict(results.concurrency),
        }
    if results.logs:
        parts["logs"] = {
            "run": run,
            "cases": {
                c.name: {"function": c.function, "status": c.status, "bytes": c.bytes, "lines": c.lines}
                for c in results.logs.cases
            },
            "platform_bytes": results.logs.platform_bytes,
            "access_log_bytes": results.logs.access_log_bytes,
        }
    if results.load:
        parts["load"] = {
            "run": run,
            "batching_window_seconds": results.load.batching_window,
            "lag_p50_ms": results.load.lag_p50_ms,
            "lag_p99_ms": results.load.lag_p99_ms,
        }
    return parts


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
