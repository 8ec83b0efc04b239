"""The operator command on the local stack, configured by the export lines the stack prints."""

import json
import os
import subprocess

import pytest

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
