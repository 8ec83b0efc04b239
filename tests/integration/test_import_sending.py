"""The import command against a scripted HTTP server: retries, Retry-After, refused rows, a refused key, exit codes.

The server answers each POST with the next scripted (status, headers, body) and records what it was
sent, so a test can check what a retry resends. The real API is exercised in tests/e2e/test_import.py.
"""

import csv
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from local.template import ROOT
from ops.importer.chunks import make_chunks
from ops.importer.rows import Charge
from ops.importer.sending import ApiClient
from ops.main import main

OK = (200, {}, {"success": True, "code": 200, "data": None})


class Scripted(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[tuple[int, dict[str, str], Any]] = []
        self.default = OK
        self.delay = 0.0
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Scripted

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        with self.server.lock:
            self.server.received.append(
                {"path": self.path, "headers": dict(self.headers), "body": json.loads(body), "at": time.monotonic()}
            )
            status, headers, answer = self.server.script.pop(0) if self.server.script else self.server.default
        time.sleep(self.server.delay)
        payload = json.dumps(answer).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        try:
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a test of its timeout): nothing to answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def server() -> Iterator[Scripted]:
    scripted = Scripted()
    thread = threading.Thread(target=scripted.serve_forever, daemon=True)
    thread.start()
    yield scripted
    scripted.shutdown()
    scripted.server_close()


def error(status: int, *errors: tuple[str, str], headers: dict[str, str] | None = None) -> tuple:
    body = {"success": False, "code": status, "data": None, "errors": [{"field": f, "message": m} for f, m in errors]}
    return status, headers or {}, body


def one_chunk(count: int = 3):
    return make_chunks([Charge(n + 2, "u1", None, 100 + n, 1764057600, False) for n in range(count)], "d" * 64)[0]


def test_throttling_and_busy_storage_are_retried_with_the_same_key_and_body_honouring_retry_after(server):
    server.script = [
        error(429, ("request", "slow down"), headers={"Retry-After": "1"}),
        error(503, ("request", "busy")),
    ]
    client = ApiClient(server.url, "pk_test", backoff_seconds=0.01)
    chunk = one_chunk()

    answer = client.send(chunk)

    assert (answer.status, answer.retries, answer.accepted) == (200, 2, True)
    assert [r["path"] for r in server.received] == ["/charges/bulk"] * 3
    assert {r["headers"]["Idempotency-Key"] for r in server.received} == {chunk.key}
    assert all(r["body"] == json.loads(chunk.body()) for r in server.received)
    assert all(r["headers"]["Authorization"] == "Bearer pk_test" for r in server.received)
    assert all(r["headers"]["Content-Encoding"] == "gzip" for r in server.received)
    assert server.received[1]["at"] - server.received[0]["at"] >= 1.0  # Retry-After: 1


class ManualClock:
    """A clock that moves only when the client sleeps: the wait for a request in flight, without the waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_a_request_still_in_flight_is_awaited_beyond_the_attempts_for_other_statuses(server):
    in_flight = error(409, ("Idempotency-Key", "still being processed"), headers={"Retry-After": "0"})
    server.script = [in_flight] * 5
    clock = ManualClock()

    answer = ApiClient(server.url, "pk_test", attempts=2, clock=clock, sleep=clock.sleep).send(one_chunk())

    assert (answer.status, answer.retries) == (200, 5)
    assert len(server.received) == 6


def test_a_request_in_flight_for_longer_than_the_patience_is_not_sent(server):
    server.default = error(409, ("Idempotency-Key", "still being processed"), headers={"Retry-After": "2"})
    clock = ManualClock()
    chunk = one_chunk()

    answer = ApiClient(server.url, "pk_test", in_flight_patience_seconds=10.0, clock=clock, sleep=clock.sleep).send(
        chunk
    )

    assert answer.status == 409 and answer.gave_up and not answer.rejected
    # It asked again after each wait (Retry-After, plus up to a second of jitter) while the patience lasted,
    # and not once after it ran out.
    assert all(2.0 <= seconds <= 3.0 for seconds in clock.sleeps)
    assert sum(clock.sleeps[:-1]) < 10.0 <= sum(clock.sleeps)
    assert len(server.received) == len(clock.sleeps) + 1 == answer.retries + 1
    assert {r["headers"]["Idempotency-Key"] for r in server.received} == {chunk.key}


def test_a_charge_id_stored_with_other_content_is_a_final_409_its_rows_rejected_not_awaited(server):
    conflict = ("charges[1].charge_id", "charges[1].charge_id 'inv-2' is already stored for this customer ...")
    server.script = [error(409, conflict)]

    answer = ApiClient(server.url, "pk_test", in_flight_patience_seconds=30).send(one_chunk())

    assert (answer.status, answer.retries, answer.rejected, answer.gave_up) == (409, 0, True, False)
    assert [(e.index, e.field) for e in answer.errors] == [(1, "charge_id")]
    assert len(server.received) == 1


def test_bodies_are_gzipped_and_much_smaller_than_the_json(server):
    chunk = one_chunk(1000)

    assert ApiClient(server.url, "pk_test").send(chunk).accepted

    [received] = server.received
    assert received["headers"]["Content-Encoding"] == "gzip"
    assert received["body"] == json.loads(chunk.body())
    assert int(received["headers"]["Content-Length"]) * 5 < len(chunk.body())


def test_a_replay_is_reported_as_such(server):
    server.script = [(200, {"Idempotent-Replayed": "true"}, OK[2])]

    answer = ApiClient(server.url, "pk_test").send(one_chunk())

    assert answer.accepted and answer.replayed


def test_a_400_is_not_retried_and_its_errors_name_the_charges(server):
    server.script = [error(400, ("charges[1].amount", "charges[1].amount must be at most 1000000000000000"))]

    answer = ApiClient(server.url, "pk_test").send(one_chunk())

    assert (answer.status, answer.retries, answer.rejected, answer.gave_up) == (400, 0, True, False)
    assert [(e.index, e.field, e.message) for e in answer.errors] == [
        (1, "amount", "amount must be at most 1000000000000000")
    ]
    assert len(server.received) == 1


def test_the_client_gives_up_after_its_attempts(server):
    server.default = error(503, ("request", "busy"), headers={"Retry-After": "0"})

    answer = ApiClient(server.url, "pk_test", attempts=3, backoff_seconds=0.01).send(one_chunk())

    assert (answer.status, answer.retries, answer.gave_up, answer.rejected) == (503, 2, True, False)
    assert len(server.received) == 3


def test_no_server_is_a_failure_to_send_not_a_rejection():
    answer = ApiClient("http://127.0.0.1:9", "pk_test", attempts=2, backoff_seconds=0.01).send(one_chunk())

    assert answer.status is None and answer.gave_up and not answer.rejected
    assert "ConnectionError" in answer.detail


# ---------------------------------------------------------------- the command


CSV = "user_id,email,amount,created_at\nu1,,100,1764057600\nu1,,abc,1764057600\nu2,,300,1764057600000\nu3,,5,\n"


def run_import(tmp_path: Path, server: Scripted, *args: str, text: str = CSV) -> tuple[int, Path]:
    source = tmp_path / "past.csv"
    source.write_text(text, encoding="utf-8")
    status = main(["import", str(source), "--url", server.url, "--key", "pk_test", *args])
    return status, tmp_path / "past.rejects.csv"


def test_an_import_with_bad_rows_exits_1_and_lists_them_in_the_rejects_file(tmp_path, server, capsys):
    status, rejects = run_import(tmp_path, server)

    assert status == 1
    assert sorted((r["body"].get("user_id"), len(r["body"]["charges"])) for r in server.received) == [
        ("u1", 1),
        ("u3", 1),
    ]
    lines = rejects.read_text().splitlines()
    assert lines[0] == "line,field,message,user_id,email,amount,created_at"
    assert [line.split(",")[:2] for line in lines[1:]] == [["3", "amount"], ["4", "created_at"]]
    report = capsys.readouterr().out
    assert "rows read   4  from" in report
    assert "accepted    2\n" in report
    assert f"rejected    2  (listed in {rejects})" in report
    assert "requests    2  (0 retries)" in report
    duration = re.search(r"^duration    (?:[1-9]\d* ms|[\d,]+\.\d s)  \([\d,]+ rows/s\)$", report, re.M)
    assert duration and "0.0 s" not in report, report


def test_a_rejects_file_imported_again_gives_a_rejects_file_with_one_header_and_once_fixed_imports(
    tmp_path, server, capsys
):
    _, rejects = run_import(tmp_path, server)
    first = list(csv.reader(rejects.read_text(encoding="utf-8").splitlines()))
    server.received.clear()

    # Imported as it is, as the docs suggest (its rows are as bad as before)
    status, again = run_import(tmp_path, server, text=rejects.read_text(encoding="utf-8"))

    second = list(csv.reader(again.read_text(encoding="utf-8").splitlines()))
    assert status == 1
    assert second[0] == ["line", "field", "message", "user_id", "email", "amount", "created_at"]
    assert [row[1:] for row in second[1:]] == [row[1:] for row in first[1:]]  # the same fields, messages and cells
    assert server.received == []

    # Once fixed, it imports
    fixed = rejects.read_text(encoding="utf-8").replace(",abc,", ",200,").replace("1764057600000", "1764057600")
    status, _ = run_import(tmp_path, server, text=fixed)
    assert status == 0
    assert sorted(r["body"]["charges"][0]["amount"] for r in server.received) == [200, 300]


def test_rows_the_api_refuses_go_to_the_rejects_file_with_its_message(tmp_path, server):
    text = "user_id,amount\nu1,1\nu1,2\nu2,3\n"
    server.script = [error(400, ("charges[1].amount", "charges[1].amount is not allowed"))]

    status, rejects = run_import(tmp_path, server, "--concurrency", "1", text=text)

    assert status == 1
    assert rejects.read_text().splitlines()[1:] == [
        "2,row,not stored: the API refused the request it was sent in because of line(s) 3,u1,1",
        "3,amount,amount is not allowed,u1,2",
    ]


def test_an_id_column_becomes_each_charge_id_and_a_repeat_for_a_customer_is_rejected(tmp_path, server):
    text = "id,user_id,amount\nch_1,u1,100\nch_2,u1,200\n,u1,300\nch_1,u2,400\nch_1,u1,100\n"

    status, rejects = run_import(tmp_path, server, "--concurrency", "1", text=text)

    assert status == 1
    sent = {r["body"]["user_id"]: r["body"]["charges"] for r in server.received}
    assert [c.get("charge_id") for c in sent["u1"]] == ["ch_1", "ch_2", None]
    assert [c.get("charge_id") for c in sent["u2"]] == ["ch_1"]  # charge ids are per customer
    assert rejects.read_text().splitlines()[1:] == [
        "6,charge_id,\"charge_id 'ch_1' is on line 2 already, for the same customer\",ch_1,u1,100"
    ]


def test_a_clean_import_exits_0_and_removes_a_stale_rejects_file(tmp_path, server):
    (tmp_path / "past.rejects.csv").write_text("left over\n")

    status, rejects = run_import(tmp_path, server, text="user_id,amount\nu1,1\n")

    assert status == 0
    assert not rejects.exists()


def test_a_refused_key_stops_the_import_with_exit_3_and_rejects_no_row(tmp_path, server, capsys):
    server.default = error(401, ("api_key", "unknown key"))
    text = "user_id,amount\n" + "".join(f"u{n},1\n" for n in range(20))

    status, rejects = run_import(tmp_path, server, "--concurrency", "1", text=text)

    assert status == 3
    assert not rejects.exists()
    assert len(server.received) == 1
    report = capsys.readouterr().out
    assert "not sent    20" in report
    assert "the API refused the key: unknown key" in report


def test_a_dry_run_sends_nothing(tmp_path, server, capsys):
    status, rejects = run_import(tmp_path, server, "--dry-run")

    assert status == 1
    assert server.received == []
    assert rejects.exists()
    assert "valid       2  (would be sent in 2 requests)" in capsys.readouterr().out


def test_no_url_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("BEACON_API_URL", raising=False)
    source = tmp_path / "past.csv"
    source.write_text(CSV)

    assert main(["import", str(source), "--key", "pk_test"]) == 2
    assert "pass --url and --key" in capsys.readouterr().err


def test_ctrl_c_stops_the_import_with_exit_130_and_still_writes_the_rejects_and_the_report(tmp_path, server):
    server.delay = 5.0  # every request is still in flight when Ctrl-C comes
    source = tmp_path / "past.csv"
    source.write_text("user_id,amount\nbad,x\n" + "".join(f"u{n},1\n" for n in range(40)), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT)])}
    command = [sys.executable, "-m", "ops", "import", str(source), "--url", server.url, "--key", "pk_test"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not server.received and time.monotonic() < deadline:
        time.sleep(0.05)

    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)

    assert process.returncode == 130, out + err
    assert "Interrupted: run the same command again to finish" in out
    assert "Traceback" not in err
    assert (tmp_path / "past.rejects.csv").read_text().splitlines()[1].startswith("2,amount,")
    counted = {
        name: int(re.search(rf"^{name} +(\d+)", out, re.M).group(1)) for name in ("accepted", "in flight", "not sent")
    }
    assert sum(counted.values()) == 40, out
    assert counted["in flight"] > 0 and counted["not sent"] > 0, out
    # Every request the API received is reported as accepted or in flight, never as not sent (one row each).
    assert len(server.received) <= counted["accepted"] + counted["in flight"], out
