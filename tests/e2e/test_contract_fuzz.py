"""Schemathesis's command line, every check, against the running API over HTTP: openapi.yaml and the API agree.

The same run a developer makes by hand against ``make dev``; the in-process contract test
(tests/integration/test_openapi_contract.py) cannot see what the HTTP layer adds (methods,
encodings, query strings). ``tests/e2e/schemathesis.toml`` makes valid Idempotency-Keys unique (see
``tests/e2e/fuzz_hooks.py``); nothing else is relaxed.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from local.process import run_local_stack
from local.template import ROOT

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 200
SEED = 11


def test_schemathesis_finds_nothing_over_http(tmp_path: Path):
    if os.environ.get("AWS_SAM_STACK_NAME"):
        pytest.skip(reason="the fuzz run stores thousands of charges; run it against the local stack")
    # A stack of its own: the run writes thousands of charges for the documented example customers.
    with run_local_stack(tmp_path / "stack.log") as stack:
        result, command = _fuzz(stack.base_url, "sk_local_dev", tmp_path)

    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout[-30000:]}\n{result.stderr[-2000:]}"
    assert "Tested: 4" in result.stdout, result.stdout[-3000:]


def _fuzz(base_url: str, secret_key: str, scratch: Path) -> tuple["subprocess.CompletedProcess[str]", list[str]]:
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(ROOT / "tests" / "e2e" / "schemathesis.toml"),
        "run",
        str(ROOT / "openapi.yaml"),
        "--url",
        base_url,
        "--header",
        f"Authorization: Bearer {secret_key}",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        str(SEED),
        # The machine may be busy: a slow answer is not what this run looks for (load is measured elsewhere).
        "--request-timeout",
        "120",
        "--no-color",
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT)])}

    # In a directory of its own: the command line keeps a cache where it runs.
    result = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True, timeout=1800, check=False)
    return result, command
