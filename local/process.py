"""``python -m local`` in a process of its own, on free ports: the stack the e2e tests and the load
benchmark talk to over HTTP, exactly as ``make dev`` runs it."""

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from local.template import ROOT

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

READY_LINE = "Ctrl-C stops."


@dataclass(frozen=True)
class RunningStack:
    """A started stack: its API's URL and the ``export`` lines it printed (endpoint, credentials, tables)."""

    base_url: str
    exports: dict[str, str]
    log_path: Path
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the stack's process has used so far (Linux ``/proc``; 0.0 elsewhere)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def dynamodb(self) -> "DynamoDBClient":
        """A DynamoDB client on the stack's embedded endpoint."""
        import boto3

        return boto3.client(
            "dynamodb",
            endpoint_url=self.exports["AWS_ENDPOINT_URL"],
            region_name=self.exports.get("AWS_REGION", "us-east-1"),
            aws_access_key_id=self.exports["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.exports["AWS_SECRET_ACCESS_KEY"],
        )


@contextmanager
def run_local_stack(
    log_path: Path,
    *,
    public_key: str = "pk_local_dev",
    secret_key: str = "sk_local_dev",
    dynamodb_host: str = "127.0.0.1",
    timeout: float = 60.0,
    python_args: Sequence[str] = ("-m", "local"),
    parameter_overrides: str = "",
) -> Iterator[RunningStack]:
    """Start the stack (output to ``log_path``), wait for its banner, and stop it as Ctrl-C would.

    ``python_args`` is what the interpreter runs: ``-m local`` unless a test wraps ``local.__main__.main``;
    ``parameter_overrides`` the template parameters it takes (``"SessionTimeoutSeconds=1"``), none else.
    """
    env = {
        **os.environ,
        "PORT": "0",
        "DYNAMODB_PORT": "0",
        "DYNAMODB_HOST": dynamodb_host,
        "BEACON_PUBLIC_KEY": public_key,
        "BEACON_SECRET_KEY": secret_key,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT)]),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("PARAMETER_OVERRIDES", None)
    if parameter_overrides:
        env["PARAMETER_OVERRIDES"] = parameter_overrides
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, *python_args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        text = _wait_until_ready(process, log_path, timeout)
        url = re.search(r"^  API\s+(\S+)$", text, re.MULTILINE)
        exports = dict(re.findall(r"^  export (\w+)=(\S+)$", text, re.MULTILINE))
        if not url or "AWS_ENDPOINT_URL" not in exports:
            raise RuntimeError(f"unexpected start-up output of the local stack:\n{text}")
        yield RunningStack(base_url=url.group(1), exports=exports, log_path=log_path, pid=process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(process: "subprocess.Popen[bytes]", log_path: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        if READY_LINE in text:
            return text
        if process.poll() is not None:
            raise RuntimeError(f"the local stack exited with {process.returncode}:\n{text}")
        time.sleep(0.1)
    raise RuntimeError(f"the local stack did not start in {timeout:g} s:\n{log_path.read_text()}")
