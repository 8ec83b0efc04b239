"""``bin/beacon import`` against a running stack: killed half-way, run again, every good row counted once.

The file holds 10,000 rows over 250 customers, about 1% of them bad (wrong types, millisecond
timestamps, no identity). The first run is killed with SIGKILL once about a third of the rows are
sent; the second run of the same command finishes the import. Then every customer's summary must
equal a recompute from the good rows (count, total, first and last charge, last amount; no sessions,
as the rows are historical), and the rejects file must list exactly the bad rows.
"""

import csv
import os
import queue
import random
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest

from local.template import ROOT
from tests.e2e.conftest import Stack, unique

pytestmark = pytest.mark.e2e

BEACON = str(ROOT / "bin" / "beacon")
ROWS = 10_000
CUSTOMERS = 250
SUMMARY_TIMEOUT_SECONDS = 600  # the local stack's stream folds 10,000 charges in minutes on a busy machine
_PROGRESS = re.compile(r"^import: ([\d,]+)/([\d,]+) rows")


@dataclass
class History:
    """The file's rows and what they should come to."""

    lines: list[list[str]]
    good: dict[tuple[str, str], list[tuple[int, int]]]  # (query field, customer) -> [(created_at, amount)]
    bad_lines: dict[int, str]  # line number -> field at fault


def make_history(run: str, seed: int = 14) -> History:
    rng = random.Random(seed)
    customers = [("user_id", f"{run}-u{n}") for n in range(CUSTOMERS - 50)]
    customers += [("email", f"{run}-e{n}@example.com") for n in range(50)]
    bad_rows = set(rng.sample(range(ROWS), ROWS // 100))
    history = History(lines=[], good={}, bad_lines={})
    for n in range(ROWS):
        kind, customer = rng.choice(customers)
        user_id, email = (customer, "") if kind == "user_id" else ("", customer.upper() if n % 2 else customer)
        created_at = 1_700_000_000 + n * 61  # unique: the latest charge of a customer is never a tie
        amount = rng.randint(0, 100_000)
        when = datetime.fromtimestamp(created_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if n % 3 == 0 else str(created_at)
        row = [user_id, email, str(amount), when, ""]
        line = n + 2
        if n in bad_rows:
            fault = rng.choice(["amount", "created_at", "user_id", "update_session"])
            if fault == "amount":
                row[2] = rng.choice(["12.5", "ten", "-3"])
            elif fault == "created_at":
                row[3] = str(created_at * 1000)
            elif fault == "user_id":
                row[0] = row[1] = ""
            else:
                row[4] = "sometimes"
            history.bad_lines[line] = fault
        else:
            history.good.setdefault((kind, customer), []).append((created_at, amount))
        history.lines.append(row)
    return history


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["user_id", "email", "amount", "created_at", "update_session"])
        writer.writerows(rows)


def expected_charges(charges: list[tuple[int, int]]) -> dict[str, int]:
    latest = max(charges)
    return {
        "count": len(charges),
        "total": sum(amount for _, amount in charges),
        "first_at": min(charges)[0],
        "last_at": latest[0],
        "last_amount": latest[1],
    }


def _lines(stream: IO[str]) -> Iterator[str]:
    yield from iter(stream.readline, "")


def test_an_import_killed_half_way_and_run_again_counts_every_good_row_once(stack: Stack, tmp_path: Path):
    history = make_history(unique("imp"))
    source = tmp_path / "history.csv"
    write_csv(source, history.lines)
    good_rows = sum(len(charges) for charges in history.good.values())
    command = [BEACON, "import", str(source), "--url", stack.base_url, "--key", stack.public_key]
    command += ["--concurrency", "3", "--progress-interval", "0.2"]

    # Given a first run, killed once about a third of the rows are sent
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert first.stderr is not None
    progress: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [progress.put(line) for line in _lines(first.stderr)], daemon=True).start()
    deadline, sent = time.monotonic() + 300, 0
    while sent < good_rows // 3 and time.monotonic() < deadline and first.poll() is None:
        try:
            match = _PROGRESS.match(progress.get(timeout=1))
        except queue.Empty:
            continue
        sent = int(match.group(1).replace(",", "")) if match else sent
    assert first.poll() is None, f"the first run ended before it could be killed:\n{first.communicate()}"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    assert good_rows // 3 <= sent < good_rows, f"killed after {sent} of {good_rows} rows"

    # When the same command runs again
    second = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)

    # Then it finishes: every good row accepted, some of them stored by the killed run, the bad ones rejected
    assert second.returncode == 1, second.stdout + second.stderr
    report = second.stdout
    assert f"rows read   {ROWS:,}  from" in report
    stored_before = re.search(r"^accepted    ([\d,]+)  \(([\d,]+) stored by an earlier run\)$", report, re.M)
    assert stored_before, report
    assert int(stored_before.group(1).replace(",", "")) == good_rows
    assert int(stored_before.group(2).replace(",", "")) >= sent // 2
    assert f"rejected    {len(history.bad_lines):,}  (listed in " in report
    assert "not sent    0" in report

    # and the rejects file lists exactly the bad rows, each with its field and original cells
    with (tmp_path / "history.rejects.csv").open(newline="", encoding="utf-8") as listed:
        rejects = list(csv.DictReader(listed))
    assert {int(r["line"]): r["field"] for r in rejects} == history.bad_lines
    for reject in rejects:
        assert [
            reject["user_id"],
            reject["email"],
            reject["amount"],
            reject["created_at"],
            reject["update_session"],
        ] == (history.lines[int(reject["line"]) - 2])

    # and every summary equals a recompute from the good rows: nothing lost, nothing counted twice
    pending = {customer: expected_charges(charges) for customer, charges in history.good.items()}
    wrong: dict[tuple[str, str], object] = {}
    deadline = time.monotonic() + SUMMARY_TIMEOUT_SECONDS
    while pending and time.monotonic() < deadline:
        wrong = {}
        for (kind, customer), expected in list(pending.items()):
            answer = stack.summary(**{kind: customer})
            data = answer.json()["data"] if answer.status_code == 200 else None
            if data and data["charges"] == expected and data["sessions"]["count"] == 0:
                del pending[(kind, customer)]
                continue
            wrong[(kind, customer)] = data
            # a summary trails its charges, but one that counts more than the good rows will never come right
            assert not data or data["charges"]["count"] <= expected["count"], f"{customer} counted twice: {data}"
        if pending:
            time.sleep(1)
    assert not pending, f"{len(pending)} summaries differ from the good rows, e.g. {next(iter(wrong.items()))}"


# ---------------------------------------------------------------- the example of docs/import.md


def documented_import_example() -> tuple[str, str, list[str], list[str]]:
    """The example of docs/import.md: the file, the command, the report, the rejects file."""
    text = (ROOT / "docs" / "import.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(\w+)\n(.*?)\n```", text, re.S)
    kinds = [kind for kind, _ in blocks]
    assert kinds[:4] == ["csv", "bash", "text", "text"], f"the page's code blocks are {kinds}"
    (_, csv_text), (_, command), (_, report), (_, rejects) = blocks[:4]
    return csv_text + "\n", command.strip(), report.splitlines(), rejects.splitlines()


def test_the_documented_import_example_runs_as_shown(stack: Stack, tmp_path: Path):
    if os.environ.get("AWS_SAM_STACK_NAME"):
        pytest.skip(reason="the example of docs/import.md imports into the local stack's project")
    csv_text, command, report, rejects = documented_import_example()
    name = re.search(r"import (\S+)", command)
    assert name, command
    (tmp_path / name.group(1)).write_text(csv_text, encoding="utf-8")
    env = {**os.environ, "BEACON_API_URL": stack.base_url, "BEACON_API_KEY": stack.public_key}

    result = subprocess.run(
        ["bash", "-c", command.replace("bin/beacon", BEACON, 1)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1, result.stdout + result.stderr  # one row rejected
    duration = re.compile(r"^duration    (?:\d+ ms|[\d,.]+ s)  \([\d,]+ rows/s\)$")
    shown = result.stdout.splitlines()
    assert len(shown) == len(report)
    for got, expected in zip(shown, report, strict=True):
        assert got == expected or (duration.match(got) and duration.match(expected)), f"{got!r} != {expected!r}"
    assert (tmp_path / "past-charges.rejects.csv").read_text(encoding="utf-8").splitlines() == rejects
    deadline = time.monotonic() + 30
    while True:
        summary = stack.summary(user_id="user_7").json().get("data")
        if (summary and summary["charges"]["count"] == 2) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert summary is not None
    assert summary["charges"] == {
        "count": 2,
        "total": 4499,
        "first_at": 1759311000,
        "last_at": 1759312800,
        "last_amount": 2500,
    }
    assert summary["sessions"]["count"] == 0
