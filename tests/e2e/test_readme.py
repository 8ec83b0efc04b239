"""The README's curl examples, run as written against the local stack, answer what the README shows.

Each ```bash block with a ``curl`` of ``http://127.0.0.1:3000`` followed by a ```json block is one
example: the command runs (its URL pointed at the test's stack) and its output must equal the JSON,
except ``first_seen_at`` / ``last_seen_at``, which are the time the example is run.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from typing import Any

import pytest

from local.template import ROOT
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

README = ROOT / "README.md"
README_URL = "http://127.0.0.1:3000"
WAIT_SECONDS = 30
_EXAMPLE = re.compile(
    r"```(?:bash|sh)\n(curl [^\n]*" + re.escape(README_URL) + r"[^\n]*)\n```\s*```json\n(.*?)\n```", re.S
)
_RUN_TIME_FIELDS = {"first_seen_at", "last_seen_at"}


def readme_examples() -> list[tuple[str, Any]]:
    text = README.read_text(encoding="utf-8") if README.exists() else ""
    return [(command, json.loads(answer)) for command, answer in _EXAMPLE.findall(text)]


def same_answer(actual: Any, expected: Any) -> bool:
    """Equal, but for the fields that hold the time the example ran (any integer there will do)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        if set(actual) != set(expected):
            return False
        return all(
            isinstance(actual[k], int)
            if k in _RUN_TIME_FIELDS and isinstance(expected[k], int)
            else same_answer(actual[k], v)
            for k, v in expected.items()
        )
    return bool(actual == expected)


def test_the_readme_curl_examples_answer_as_documented(stack: Stack):
    if os.environ.get("AWS_SAM_STACK_NAME"):
        pytest.skip(reason="the README's examples use the local stack's URL and keys")
    if shutil.which("curl") is None:
        pytest.skip(reason="curl is not installed")
    examples = readme_examples()
    assert examples, "README.md has no curl example followed by its JSON answer"

    for command, expected in examples:
        argv = [part.replace(README_URL, stack.base_url) for part in shlex.split(command)]
        # A read may be repeated until the stream has caught up (a summary trails its charges); a write runs once.
        is_read = not {"-d", "--data", "--data-raw", "-X", "--request"} & set(argv)
        deadline = time.monotonic() + (WAIT_SECONDS if is_read else 0)
        while True:
            output = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
            answer = json.loads(output)
            if same_answer(answer, expected) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert same_answer(answer, expected), f"{command}\nanswered {output}\nthe README shows {json.dumps(expected)}"
