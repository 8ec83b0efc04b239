"""The curl examples of README.md and docs/*.md, run as written against the local stack, answer what they show.

Each ```bash block with a ``curl`` of ``http://127.0.0.1:3000`` followed by a ```json block is one
example: the command runs (its URL pointed at the test's stack) and its output must equal the JSON,
except ``first_seen_at`` / ``last_seen_at``, which are the time the example is run. A page's examples
run in the page's order, and each page's examples stand on their own: a page that reads a summary
first sends the charges it reads.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from local.template import ROOT
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLES_AT_LEAST = 18  # every example the pages show; a page may move an example, none may drop one
EXAMPLE_URL = "http://127.0.0.1:3000"
WAIT_SECONDS = 30
_EXAMPLE = re.compile(
    r"```(?:bash|sh)\n(curl [^\n]*" + re.escape(EXAMPLE_URL) + r"[^\n]*)\n```\s*```json\n(.*?)\n```", re.S
)
_RUN_TIME_FIELDS = {"first_seen_at", "last_seen_at"}


def examples(page: Path) -> list[tuple[str, Any]]:
    """The page's examples, in its order: each command and the answer it shows."""
    return [(command, json.loads(answer)) for command, answer in _EXAMPLE.findall(page.read_text(encoding="utf-8"))]


PAGES_WITH_EXAMPLES = [page for page in PAGES if examples(page)]


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


def test_no_example_was_dropped():
    assert ROOT / "README.md" in PAGES_WITH_EXAMPLES, "README.md has no curl example followed by its JSON answer"
    assert sum(len(examples(page)) for page in PAGES) >= EXAMPLES_AT_LEAST


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=lambda page: str(page.relative_to(ROOT)))
def test_the_curl_examples_of_a_page_answer_as_shown(stack: Stack, page: Path):
    if os.environ.get("AWS_SAM_STACK_NAME"):
        pytest.skip(reason="the examples use the local stack's URL and keys")
    if shutil.which("curl") is None:
        pytest.skip(reason="curl is not installed")

    for command, expected in examples(page):
        argv = [part.replace(EXAMPLE_URL, stack.base_url) for part in shlex.split(command)]
        # A read may be repeated until the stream has caught up (a summary trails its charges); a write runs once.
        is_read = not {"-d", "--data", "--data-raw", "-X", "--request"} & set(argv)
        deadline = time.monotonic() + (WAIT_SECONDS if is_read else 0)
        while True:
            output = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
            answer = json.loads(output)
            if same_answer(answer, expected) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert same_answer(answer, expected), f"{command}\nanswered {output}\n{page.name} shows {json.dumps(expected)}"
