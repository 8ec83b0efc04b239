"""Issue 23 over real HTTP: gzip bodies, the client's own charge_id counted once, device clocks corrected.

Each test sends what a client would and checks what it would: the answer, the summary the stream
keeps, and the charges stored. Against the local stack, the gzip bomb's test also reads the stack
process's peak resident memory from /proc, reset just before the request.
"""

import csv
import gzip
import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from local.template import ROOT
from tests.e2e.conftest import Stack, unique

pytestmark = pytest.mark.e2e

WAIT_SECONDS = 60
HOUR = 3600
BOMB_BYTES = 10_000_000  # ten million zeros, about 10 KB compressed
MiB = 1024 * 1024


def post_gzip(stack: Stack, path: str, document: Any, **headers: str) -> Any:
    body = gzip.compress(json.dumps(document).encode())
    return stack.post(
        path, data=body, headers={"Content-Type": "application/json", "Content-Encoding": "gzip", **headers}
    )


def summary_when(stack: Stack, user_id: str, count: int) -> dict[str, Any]:
    """The customer's summary once it counts ``count`` charges; a second later, still that (nothing more comes)."""
    deadline = time.monotonic() + WAIT_SECONDS
    data: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = stack.summary(user_id=user_id)
        if response.status_code == 200:
            data = response.json()["data"]
            if data["charges"]["count"] >= count:
                time.sleep(2)  # a charge counted twice would show by now
                return stack.summary(user_id=user_id).json()["data"]
        time.sleep(0.2)
    raise AssertionError(f"{user_id}: expected {count} charges in the summary, got {data or 'no summary'}")


def amounts(items: list[dict[str, Any]]) -> list[int]:
    return sorted(int(item["amount"]["N"]) for item in items)


# ---------------------------------------------------------------- gzip


def test_a_gzip_bulk_is_counted(stack: Stack):
    user = unique("e2e-gzip")
    charges = [{"amount": 10 + i, "created_at": 1_764_000_000 + i} for i in range(300)]

    response = post_gzip(stack, "/charges/bulk", {"user_id": user, "charges": charges})

    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "code": 200, "data": None}
    summary = summary_when(stack, user, 300)
    assert summary["charges"]["count"] == 300
    assert summary["charges"]["total"] == sum(10 + i for i in range(300))


def _peak_rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB$", status, re.M)
    assert match, status
    return int(match.group(1)) * 1024


def test_a_gzip_bomb_is_a_413_and_the_stacks_memory_stays_flat(stack: Stack):
    user = unique("e2e-bomb")
    bomb = gzip.compress(b'{"user_id": "' + user.encode() + b'", "amount": 1, "pad": "' + b"0" * BOMB_BYTES + b'"}', 9)
    assert len(bomb) < 20_000

    measured = stack.pid is not None and Path(f"/proc/{stack.pid}/clear_refs").exists()
    if measured:
        Path(f"/proc/{stack.pid}/clear_refs").write_text("5")  # the peak starts again from what is resident now
        before = _peak_rss(stack.pid)  # type: ignore[arg-type]

    response = stack.post(
        "/charges", data=bomb, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
    )

    assert response.status_code == 413, response.text
    assert response.json()["errors"][0]["field"] == "body"
    assert "decompressed" in response.json()["errors"][0]["message"]
    assert stack.stored_charges(user_id=user) == []
    if not measured:
        pytest.skip(reason="the stack's memory is only read on the local stack, on Linux (/proc)")
    grown = _peak_rss(stack.pid) - before  # type: ignore[arg-type]
    print(f"peak RSS of the stack: {before / MiB:.1f} MiB before, +{grown / MiB:.2f} MiB while it refused the bomb")
    assert grown < 6 * MiB, f"the stack's peak memory grew by {grown / MiB:.1f} MiB for a 413"


@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd"])
def test_another_content_encoding_is_a_415(stack: Stack, encoding: str):
    user = unique("e2e-br")

    response = stack.post("/charges", {"user_id": user, "amount": 1}, headers={"Content-Encoding": encoding})

    assert response.status_code == 415, response.text
    envelope = response.json()
    assert (envelope["success"], envelope["code"], envelope["data"]) == (False, 415, None)
    assert envelope["errors"][0]["field"] == "Content-Encoding"
    assert response.headers["Accept-Encoding"] == "gzip, identity"
    assert stack.stored_charges(user_id=user) == []


# ---------------------------------------------------------------- charge_id


def test_the_same_charge_id_sent_single_then_in_a_bulk_counts_once(stack: Stack):
    user = unique("e2e-charge-id")
    charge = {"amount": 4999, "created_at": 1_764_057_600, "charge_id": "order-1001"}

    single = stack.post("/charges", {"user_id": user, **charge})
    in_bulk = stack.post(
        "/charges/bulk", {"user_id": user, "charges": [charge, {"amount": 100, "created_at": 1_764_000_000}]}
    )

    assert (single.status_code, in_bulk.status_code) == (200, 200), in_bulk.text
    summary = summary_when(stack, user, 2)
    assert summary["charges"]["count"] == 2
    assert summary["charges"]["total"] == 4999 + 100
    assert amounts(stack.stored_charges(user_id=user)) == [100, 4999]


def test_another_amount_under_a_stored_charge_id_is_a_409_and_writes_nothing(stack: Stack):
    user = unique("e2e-charge-id-409")
    assert stack.post("/charges", {"user_id": user, "amount": 4999, "charge_id": "inv-7"}).status_code == 200
    stored = stack.stored_charges(user_id=user)

    single = stack.post("/charges", {"user_id": user, "amount": 5000, "charge_id": "inv-7"})
    in_bulk = stack.post(
        "/charges/bulk",
        {
            "user_id": user,
            "charges": [{"amount": 1, "charge_id": "inv-8"}, {"amount": 2}, {"amount": 3, "charge_id": "inv-7"}],
        },
    )

    assert single.status_code == 409, single.text
    assert [e["field"] for e in single.json()["errors"]] == ["charge_id"]
    assert "Retry-After" not in single.headers
    assert in_bulk.status_code == 409, in_bulk.text
    assert [e["field"] for e in in_bulk.json()["errors"]] == ["charges[2].charge_id"]
    assert stack.stored_charges(user_id=user) == stored
    charges = summary_when(stack, user, 1)["charges"]
    assert (charges["count"], charges["total"], charges["last_amount"]) == (1, 4999, 4999)


# ---------------------------------------------------------------- sent_at


def test_a_request_sent_an_hour_ahead_of_the_server_has_its_created_at_moved_back_an_hour(stack: Stack):
    # Given a client whose clock is an hour ahead: it stamps the charge and the request by that clock
    user = unique("e2e-clock")
    client_now = int(time.time()) + HOUR

    response = stack.post("/charges", {"user_id": user, "amount": 1, "created_at": client_now, "sent_at": client_now})

    assert response.status_code == 200, response.text
    [item] = stack.stored_charges(user_id=user)
    received_at = int(item["received_ms"]["N"]) // 1000
    assert int(item["created_at"]["N"]) == received_at  # created when sent, by the server's clock
    assert abs(int(item["created_at"]["N"]) - (client_now - HOUR)) <= 5
    assert summary_when(stack, user, 1)["charges"]["last_at"] == int(item["created_at"]["N"])


# ---------------------------------------------------------------- bin/beacon import with an id column


def test_an_import_with_an_id_column_counts_each_charge_once_across_files(stack: Stack, tmp_path: Path):
    user = unique("e2e-import-ids")
    rows = [[f"ch_{n}", user, str(100 + n), str(1_764_000_000 + n)] for n in range(51)]
    files = {
        "january.csv": rows[:50],
        "january-again.csv": rows[::-1],  # the same charges (in another order: other Idempotency-Keys) and ch_50
        "fixed.csv": [["ch_3", user, "9", "1764000003"]],  # ch_3 with another amount
    }
    command = [str(ROOT / "bin" / "beacon"), "import", "--url", stack.base_url, "--key", stack.public_key]
    results = {}
    for name, content in files.items():
        with (tmp_path / name).open("w", newline="", encoding="utf-8") as out:
            csv.writer(out).writerows([["id", "user_id", "amount", "created_at"], *content])
        results[name] = subprocess.run(
            [*command, str(tmp_path / name)], capture_output=True, text=True, timeout=120, check=False
        )

    assert results["january.csv"].returncode == 0, results["january.csv"].stdout
    assert results["january-again.csv"].returncode == 0, results["january-again.csv"].stdout
    assert "accepted    51" in results["january-again.csv"].stdout
    assert results["fixed.csv"].returncode == 1, results["fixed.csv"].stdout
    [_header, reject] = (tmp_path / "fixed.rejects.csv").read_text(encoding="utf-8").splitlines()
    assert reject.startswith("2,charge_id,"), reject
    summary = summary_when(stack, user, 51)
    assert summary["charges"]["count"] == 51
    assert summary["charges"]["total"] == sum(100 + n for n in range(51))
