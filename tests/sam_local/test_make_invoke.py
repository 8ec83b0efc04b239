"""The README's `make invoke` line (one-shot `sam local invoke`) against the local stack, as a user runs it."""

import json
import subprocess
import time

import pytest

from beacon.dal.keys import charge_pk, customer_id
from local.template import ROOT
from tests.conftest import PROJECT
from tests.sam_local.conftest import Sam

pytestmark = pytest.mark.sam_local

README_LINE = "make invoke FUNCTION=CreateChargeFunction EVENT=events/create_charge.json"
# Under qemu a one-shot invoke can lose SAM's race with the emulated container's start-up (SAM posts the
# event through Docker's port proxy before the emulator listens, and the invoke fails without running the
# function); warm containers never do. On a machine that runs arm64 natively one attempt is all it takes.
ATTEMPTS = 3


def test_the_readmes_make_invoke_line_stores_the_charge_and_prints_the_answer(sam: Sam):
    assert README_LINE in (ROOT / "README.md").read_text(encoding="utf-8")
    extra = " ".join(["--template-file", str(sam.template), *sam.image_options])
    pk = charge_pk(PROJECT, customer_id("user_42", None))
    before = _charges(sam, pk)
    outputs = []
    for attempt in range(1, ATTEMPTS + 1):
        started = time.monotonic()
        run = subprocess.run(
            [*README_LINE.split(), f"ENV_VARS={sam.env_vars}", f"SAM_LOCAL_ARGS={extra}"],
            cwd=ROOT,
            env=sam.environment,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        sam.timed("make invoke", f"CreateChargeFunction, attempt {attempt}", time.monotonic() - started)
        outputs.append(f"attempt {attempt}, exit {run.returncode}:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}")
        answer = _last_json_line(run.stdout)
        if run.returncode == 0 and answer is not None:
            break
    else:
        pytest.fail("\n".join(outputs))
    assert answer["statusCode"] == 200, outputs[-1]
    assert json.loads(answer["body"]) == {"success": True, "code": 200, "data": None}
    added = [item for item in _charges(sam, pk) if item["SK"] not in [b["SK"] for b in before]]
    assert [item["amount"] for item in added] == [{"N": "4999"}]


def _charges(sam: Sam, pk: str) -> list[dict]:
    return sam.stack.dynamodb().query(
        TableName=sam.stack.exports["CHARGES_TABLE_NAME"],
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
    )["Items"]


def _last_json_line(output: str) -> dict | None:
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None
