"""The operator command on the local stack, configured by the export lines the stack prints."""

import json
import os
import re
import subprocess
import time
import uuid

import pytest
import requests

from local.process import run_local_stack
from local.template import ROOT
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def test_bin_beacon_lists_the_seeded_keys_with_the_printed_environment(stack: Stack):
    if not stack.exports:
        pytest.skip(reason="a deployed stack: bin/beacon --stack reads its outputs instead")

    result = subprocess.run(
        [str(ROOT / "bin" / "beacon"), "keys", "list", "--project", "local"],
        env={**os.environ, **stack.exports},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    keys = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert sorted((k["kind"], k["prefix"], k["status"]) for k in keys) == [
        ("public", stack.public_key[:7], "active"),
        ("secret", stack.secret_key[:7], "active"),
    ]


def test_bin_beacon_shows_a_customer_as_the_api_answers_it(stack: Stack):
    if not stack.exports:
        pytest.skip(reason="a deployed stack: bin/beacon --stack reads its outputs instead")
    user_id = f"show-{uuid.uuid4().hex[:12]}"
    assert stack.post("/charges", {"user_id": user_id, "email": "ada@example.com", "amount": 4999}).status_code == 200
    deadline = time.monotonic() + 30
    while (answer := stack.summary(user_id=user_id)).status_code == 404 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert answer.status_code == 200, answer.text

    result = subprocess.run(
        [str(ROOT / "bin" / "beacon"), "customers", "show", "--project", "local", "--user-id", user_id],
        env={**os.environ, **stack.exports},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == answer.json()["data"]


# `make dev` as it runs (local.__main__.main), and after it returns, what the interpreter's exit still has to
# walk through: its garbage collections visit every tracked object, whatever gc is set to.
EXIT_PROBE = (
    "import gc, sys\n"
    "from local.__main__ import main\n"
    "status = main()\n"
    "print(f'objects left for the exit: {len(gc.get_objects())}', flush=True)\n"
    "sys.exit(status)\n"
)


def test_the_local_stack_stops_without_leaving_its_data_for_the_exit_to_walk_through(tmp_path):
    # Given a session that stored a few thousand charges (a long one stores hundreds of thousands)
    log_path = tmp_path / "stack.log"
    with run_local_stack(log_path, python_args=("-c", EXIT_PROBE)) as running:
        for customer in range(3):
            charges = [{"amount": n + 1, "created_at": 1_764_057_600 + n} for n in range(1000)]
            answer = requests.post(
                f"{running.base_url}/charges/bulk",
                json={"user_id": f"user_{customer}", "charges": charges},
                headers={"Authorization": "Bearer pk_local_dev"},
                timeout=120,
            )
            assert answer.status_code == 200, answer.text

    # When it is stopped (Ctrl-C), what is left for the interpreter's exit does not grow with what was stored
    text = log_path.read_text(encoding="utf-8")
    assert "\nstopped\n" in text, text[-3000:]
    left = re.search(r"^objects left for the exit: (\d+)$", text, re.M)
    assert left, text[-3000:]
    assert int(left.group(1)) < 3000
