"""Run in a fresh interpreter by ``cold_start``: time one function's module import (or the floor), print JSON.

Usage: ``python -P benchmarks/cold_probe.py floor`` or ``python -P benchmarks/cold_probe.py <module> <handler>
[event.json]``. The timed part comes first, before anything else is imported; the first request then runs
against a real botocore client whose calls are answered in memory (nothing leaves the machine).
"""

import os
import sys
import time


class _LayerOnly:
    """Refuse modules that a Lambda execution environment would not have (dev tools of the virtualenv)."""

    def __init__(self, blocked: frozenset[str]) -> None:
        self.blocked = blocked

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] in self.blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the Lambda layer)", name=name)


sys.meta_path.insert(0, _LayerOnly(frozenset(filter(None, os.environ.get("BENCH_BLOCKED", "").split(",")))))

_START = time.perf_counter()
_START_CPU = time.process_time()

import importlib  # noqa: E402 (timing starts before any import)
import json  # noqa: E402
from typing import Any  # noqa: E402


def _floor() -> dict[str, Any]:
    import boto3
    import pydantic

    boto3.client("dynamodb")
    assert pydantic.VERSION
    return _since_start()


def _since_start() -> dict[str, Any]:
    return {"init_ms": (time.perf_counter() - _START) * 1000, "init_cpu_ms": (time.process_time() - _START_CPU) * 1000}


def _handler(module_name: str, handler_name: str, event_path: str | None) -> dict[str, Any]:
    module = importlib.import_module(module_name)
    result = _since_start()
    if not event_path:
        return result
    # Untimed: the in-memory DynamoDB, seeded with the local project's keys, behind the default session.
    sys.path.append(os.environ["BENCH_ROOT"])
    import boto3

    from benchmarks.fake_dynamodb import FakeDynamoDB, attach, seed_keys, seed_summaries

    fake = FakeDynamoDB()
    seed_keys(fake, os.environ["API_KEYS_TABLE_NAME"])
    with open(os.path.join(os.environ["BENCH_ROOT"], "events", "summarize_charges.json"), encoding="utf-8") as handle:
        seed_summaries(fake, os.environ["SUMMARIES_TABLE_NAME"], json.load(handle))
    boto3.DEFAULT_SESSION = session = boto3.session.Session()  # what boto3.client() uses
    attach(session.events, fake)
    with open(event_path, encoding="utf-8") as handle:
        event = json.load(handle)
    context = _Context()
    started, started_cpu = time.perf_counter(), time.process_time()
    response = getattr(module, handler_name)(event, context)
    result["first_request_ms"] = (time.perf_counter() - started) * 1000
    result["first_request_cpu_ms"] = (time.process_time() - started_cpu) * 1000
    result["answer"] = response.get("statusCode", response) if isinstance(response, dict) else str(response)
    result["calls"] = dict(fake.calls)
    return result


class _Context:
    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


if __name__ == "__main__":
    args = sys.argv[1:]
    outcome = _floor() if args[0] == "floor" else _handler(args[0], args[1], args[2] if len(args) > 2 else None)
    print(json.dumps(outcome))
