"""``python -m benchmarks`` (``make bench``): measure everything, write docs/benchmarks.md and its charts.

It also writes docs/benchmarks.json, the figures the capacity model (``make capacity``) reads.
``--quick`` is a smoke run of a few seconds per part (tiny samples, figures meaningless) that keeps the
code from rotting; ``--only cold,warm,logs,capacity,load,import`` runs some parts; ``--out`` writes elsewhere.
The exit status is 1 when a part could not be measured (the page says why), never because of a figure.
"""

import argparse
import functools
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import capacity, cold_start, figures, importing, load, log_bytes, warm
from benchmarks.machine import this_machine
from benchmarks.report import Results, write
from local.template import ROOT

PARTS = ("cold", "warm", "logs", "capacity", "load", "import")


def _run(results: Results, part: str, measure: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    print(f"benchmarks: {part}...", file=sys.stderr, flush=True)
    try:
        value = measure()
    except Exception as exc:
        traceback.print_exc()
        results.missing[part] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return None
    print(f"benchmarks: {part} took {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return value


def run(parts: list[str], *, quick: bool) -> Results:
    """Measure the given parts (``PARTS``); ``quick`` is the seconds-long smoke run with tiny samples."""
    results = Results(machine=this_machine(), quick=quick)
    started = time.perf_counter()
    if "cold" in parts:
        results.cold = _run(results, "cold start", lambda: cold_start.measure(1 if quick else 15, profile=not quick))
    if "warm" in parts:
        scale = 0.01 if quick else 1.0
        results.warm = _run(results, "warm cost", lambda: warm.measure(scale, mode="boto3"))
        results.warm_stub = _run(results, "warm cost (stub)", lambda: warm.measure(scale, mode="stub"))
    if "logs" in parts:
        results.logs = _run(results, "log bytes", lambda: log_bytes.measure(3 if quick else 20))
    if "capacity" in parts:
        small_day = functools.partial(
            capacity.measure, day_charges=100, day_customers=10, bulk_sizes=(100,), heavy_charges=1_000
        )
        results.capacity = _run(results, "DynamoDB work", small_day if quick else capacity.measure)
    if "load" in parts:
        rates = [5.0, 10.0] if quick else [15.0, 30.0, 60.0, 120.0, 240.0]
        seconds = 1.0 if quick else 12.0
        results.load = _run(
            results,
            "end to end",
            lambda: load.measure(rates=rates, step_seconds=seconds, drain_timeout=30.0 if quick else 180.0),
        )
    if "import" in parts:
        rows, customers, singles = (200, 10, 20) if quick else (2000, 20, 200)
        results.importing = _run(
            results, "import", lambda: importing.measure(rows=rows, customers=customers, singles=singles)
        )
    results.seconds = time.perf_counter() - started
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds per part")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts among {', '.join(PARTS)}")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where benchmarks.md and the charts go")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s): {', '.join(unknown)}")
    results = run(parts, quick=bool(args.quick))
    page = write(results, args.out)
    figures.write(results, args.out)
    print(f"benchmarks: wrote {page} in {results.seconds:.0f} s", file=sys.stderr)
    return 1 if results.missing else 0


if __name__ == "__main__":
    sys.exit(main())
