"""`bin/beacon --stack NAME`: the stack's outputs say where every command works; a stack that cannot be read
stops the command line with one line and exit status 2 before any command runs, and nothing is changed.

The stacks are moto's CloudFormation; the environment points at other tables (as the local stack's
`export` lines would), so a command that ran anyway would show up in them.
"""

import json
import os
import subprocess

import boto3
import pytest

from local.caches import reset_caches
from local.template import ROOT
from ops.main import main

KEYS_CREATE = ["keys", "create", "--project", "local", "--kind", "secret"]


@pytest.fixture
def environment(monkeypatch):
    """Whatever main() sets in the environment (a stack's outputs) is put back after the test."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    reset_caches()


def create_stack(name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


def stack_outputs_for(tables, queue_url: str = "") -> dict[str, str]:
    outputs = {
        "ChargesTableName": tables.names["ChargesTable"],
        "SummariesTableName": tables.names["SummariesTable"],
        "ApiKeysTableName": tables.names["ApiKeysTable"],
        "IdempotencyTableName": tables.names["IdempotencyTable"],
        "ApiUrl": "https://api.example.com",
        "SessionTimeoutSeconds": "1800",
    }
    return {**outputs, "SummarizeFailureQueueUrl": queue_url} if queue_url else outputs


def refused(capsys, *argv: str) -> str:
    """Run the command line; it must exit 2 with exactly one line on standard error and print nothing else."""
    status = main(list(argv))
    captured = capsys.readouterr()
    assert status == 2, captured
    assert captured.out == ""
    [line] = captured.err.splitlines()
    return line


def test_a_stack_that_does_not_exist_stops_everything_and_creates_no_key(tables, capsys, environment):
    keys_before = tables.items("ApiKeysTable")

    line = refused(capsys, "--stack", "no-such-stack", *KEYS_CREATE)

    assert line == "error: no stack named no-such-stack in us-east-1 (is AWS_REGION the stack's region?)"
    assert tables.items("ApiKeysTable") == keys_before


def test_a_stack_that_is_not_a_beacon_stack_stops_everything(tables, capsys, environment):
    create_stack("someone-elses", {"QueueUrl": "https://sqs.example.com/queue"})
    keys_before = tables.items("ApiKeysTable")

    line = refused(capsys, "--stack", "someone-elses", *KEYS_CREATE)

    assert line.startswith("error: stack someone-elses (CREATE_COMPLETE) is not a Beacon charges stack")
    assert "ChargesTableName" in line
    assert tables.items("ApiKeysTable") == keys_before


def test_no_region_to_look_for_the_stack_in_stops_everything(tables, capsys, environment, monkeypatch, tmp_path):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    keys_before = tables.items("ApiKeysTable")

    line = refused(capsys, "--stack", "beacon-prod", *KEYS_CREATE)

    assert line == "error: cannot read stack beacon-prod: no AWS region (set AWS_REGION or your profile's region)"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert tables.items("ApiKeysTable") == keys_before


def test_no_answer_from_aws_stops_everything(tables, capsys, environment, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", "http://127.0.0.1:9")
    keys_before = tables.items("ApiKeysTable")

    line = refused(capsys, "--stack", "beacon-prod", *KEYS_CREATE)

    assert line.startswith("error: cannot read stack beacon-prod: Could not connect to the endpoint URL")
    assert tables.items("ApiKeysTable") == keys_before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--stack", "", *KEYS_CREATE], "stack name '' must be 1-128 characters"),
        (["--stack", "prod stack", *KEYS_CREATE], "stack name 'prod stack' must be 1-128 characters"),
        (["--stack"], "argument --stack: expected one argument"),
    ],
)
def test_a_stack_name_that_cannot_be_one_is_a_usage_error(tables, capsys, environment, argv, message):
    keys_before = tables.items("ApiKeysTable")

    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    assert message in capsys.readouterr().err
    assert tables.items("ApiKeysTable") == keys_before


def test_the_stack_outputs_say_where_the_commands_work(tables, capsys, environment, monkeypatch):
    # Given a Beacon stack whose tables are these, while the environment names other tables and another queue
    queue_url = boto3.client("sqs").create_queue(QueueName="failures")["QueueUrl"]
    create_stack("beacon-prod", stack_outputs_for(tables, queue_url))
    for name in ("CHARGES_TABLE_NAME", "SUMMARIES_TABLE_NAME", "API_KEYS_TABLE_NAME", "IDEMPOTENCY_TABLE_NAME"):
        monkeypatch.setenv(name, f"local-{name}")
    monkeypatch.setenv("SUMMARIZE_FAILURE_QUEUE_URL", "http://127.0.0.1:9/local-queue")

    # When a key is created and the failure queue replayed on that stack
    status = main(["--stack", "beacon-prod", *KEYS_CREATE])
    created = json.loads(capsys.readouterr().out.splitlines()[0])
    replayed = main(["--stack", "beacon-prod", "summaries", "replay"])

    # Then the key is in the stack's table, and the replay read the stack's queue (empty), not the environment's
    assert status == 0
    assert created["key_id"] in json.dumps(tables.items("ApiKeysTable"))
    assert replayed == 0
    assert "0 message(s)" in capsys.readouterr().out
    assert os.environ["SUMMARIZE_FAILURE_QUEUE_URL"] == queue_url


def test_a_variable_the_stack_does_not_give_is_unset_rather_than_left_pointing_elsewhere(
    tables, capsys, environment, monkeypatch
):
    create_stack("beacon-prod", stack_outputs_for(tables))  # no failure queue output
    monkeypatch.setenv("SUMMARIZE_FAILURE_QUEUE_URL", "http://127.0.0.1:9/local-queue")

    status = main(["--stack", "beacon-prod", "summaries", "replay"])

    assert status == 2
    assert "no queue: pass --queue-url or set SUMMARIZE_FAILURE_QUEUE_URL" in capsys.readouterr().err


def test_bin_beacon_stops_on_a_stack_it_cannot_read_without_a_traceback(tmp_path):
    # The reproduction: the environment points at a stack (here one that does not answer), --stack at none.
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "API_KEYS_TABLE_NAME": "local-keys",
    }
    result = subprocess.run(
        [str(ROOT / "bin" / "beacon"), "--stack", "no-such-stack", *KEYS_CREATE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 2, result
    assert result.stdout == ""
    assert result.stderr.startswith("error: cannot read stack no-such-stack:"), result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_python_m_ops_stack_outputs_prints_the_export_lines(tables, capsys, environment):
    from ops.stack_outputs import main as stack_outputs

    create_stack("beacon-prod", stack_outputs_for(tables))

    assert stack_outputs("beacon-prod") == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"export CHARGES_TABLE_NAME={tables.names['ChargesTable']}" in lines
    assert "export BEACON_API_URL=https://api.example.com" in lines
    assert stack_outputs("no-such-stack") == 2
    assert capsys.readouterr().err.startswith("error: no stack named no-such-stack")
