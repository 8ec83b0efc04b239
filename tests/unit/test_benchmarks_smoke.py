"""`python -m benchmarks --quick` runs every part end to end, so that the benchmarks cannot rot.

No figure is asserted (a smoke run's timings mean nothing); what is asserted is what the benchmarks
observe about behaviour: the work each request does in DynamoDB, and that after the load every
charge accepted is stored and every summary is right.
"""

import os
import re
import subprocess
import sys

from benchmarks.capacity_model import load_inputs, run_model
from local.template import ROOT


def test_the_quick_benchmark_run_measures_every_part_and_writes_the_page(tmp_path):
    # Given a clean output folder; When the smoke run of `make bench` runs
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT)])}
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # Then every part was measured, the page and its charts written
    assert completed.returncode == 0, completed.stderr[-4000:]
    page = (tmp_path / "benchmarks.md").read_text(encoding="utf-8")
    assert "was not measured" not in page
    for section in ("## 1. Cold start", "## 2. Warm handler cost", "## 3. DynamoDB work", "## 4. End to end"):
        assert section in page
    for chart in ("cold-start", "warm", "capacity", "load"):
        assert (tmp_path / f"benchmarks-{chart}.png").stat().st_size > 0
        assert f"(benchmarks-{chart}.png)" in page

    # And what it observed is the behaviour of the code: every function of the template answered its
    # ready event, one write per charge, one BatchWriteItem per 25 charges, summaries equal to the charges
    for function in ("CreateChargeFunction", "BulkChargesFunction"):
        assert re.search(rf"^\| {function} \|.*\| 200 \(", page, re.MULTILINE), function
    assert "| **single charge (POST /charges)** | 1 PutItem | 1.0 | 0.0 | 1.00 |" in page
    assert "| **bulk of 100 (POST /charges/bulk)** | 4 BatchWriteItem | 100.0 | 0.0 | 1.00 |" in page
    assert "the summaries were checked: all 10 summaries equal the count and total of the charges sent" in page
    accepted, stored = re.search(r"(\d+) charges accepted, (\d+) stored \(equal\)", page).groups()
    assert int(accepted) == int(stored) > 0
    right, customers = re.search(r"(\d+) of (\d+) customers' summaries equal", page).groups()
    assert right == customers

    # And the figures as data, which the capacity model reads: the day the run measured, its stream batches
    inputs = load_inputs(tmp_path / "benchmarks.json")
    assert (inputs.day_charges, inputs.day_customers) == (100, 10)
    assert inputs.day_single_requests == 80
    assert inputs.day_stream_check is not None
    measured, modelled = inputs.day_stream_check
    assert abs(measured - modelled) <= 0.02 * measured
    assert run_model(inputs=inputs, scales=(1, 10)).scales[1].monthly_total > 0
