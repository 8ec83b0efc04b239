"""``python -m benchmarks`` (``make bench``): measure everything, write docs/benchmarks.md, its charts and
docs/benchmarks.json (the figures ``make capacity`` reads). ``--quick``: a smoke run of a few seconds per part that
keeps the code from rotting; ``--only cold,warm,...`` runs some parts; ``--out`` writes elsewhere. The exit status
is 1 when a part could not be measured (the page says why), never because of a figure.
"""

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import capacity, cold_start, erasure, figures, importing, load, log_bytes, stream, warm
from benchmarks.machine import this_machine
from benchmarks.report import Results, write
from local.template import ROOT

PARTS = ("cold", "warm", "logs", "capacity", "stream", "load", "import")


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


def _measures(q: bool) -> dict[str, list[tuple[str, str, Callable[[], Any]]]]:
    """Each part's measurements: (the field of ``Results``, a label, what measures it); ``q``: the quick run's."""
    small = {"day_charges": 100, "day_customers": 10, "heavy_charges": 1_000, "loyal_days": 10, "loyal_import": 400}
    day: dict[str, Any] = {**small, "bulk_sizes": (100,)} if q else {"bulk_sizes": (100, 1000)}
    rates = [5.0, 10.0] if q else [15.0, 30.0, 60.0, 120.0, 240.0]
    step, drain = (1.0, 30.0) if q else (12.0, 180.0)
    history = {"rows": 200, "customers": 10, "singles": 20} if q else {"rows": 2000, "customers": 20, "singles": 200}
    return {
        "cold": [("cold", "cold start", lambda: cold_start.measure(1 if q else 15, profile=not q))],
        "warm": [
            ("warm", "warm cost", lambda: warm.measure(0.01 if q else 1.0, mode="boto3")),
            ("warm_stub", "warm cost (stub)", lambda: warm.measure(0.01 if q else 1.0, mode="stub")),
        ],
        "logs": [("logs", "log bytes", lambda: log_bytes.measure(3 if q else 20))],
        "capacity": [("capacity", "DynamoDB work", lambda: capacity.measure(**day))],
        "stream": [
            ("recompute", "recompute", lambda: stream.recompute(20_000 if q else 1_000_000)),
            ("concurrency", "concurrent writes", lambda: stream.concurrency(rounds=1 if q else 7)),
            ("erasure", "erasure", lambda: erasure.measure(2_000 if q else 100_000)),
        ],
        "load": [("load", "end to end", lambda: load.measure(rates=rates, step_seconds=step, drain_timeout=drain))],
        "import": [("importing", "import", lambda: importing.measure(**history))],
    }


def run(parts: list[str], *, quick: bool) -> Results:
    """Measure the given parts (``PARTS``); ``quick`` is the seconds-long smoke run with tiny samples."""
    results = Results(machine=this_machine(), quick=quick)
    started = time.perf_counter()
    measures = _measures(quick)
    for part in PARTS:
        for attribute, label, measure in measures[part] if part in parts else []:
            setattr(results, attribute, _run(results, label, measure))
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
