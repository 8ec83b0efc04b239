"""The functions of template.yaml, loaded from their CodeUri and Handler and invoked in this process.

Every handler file is called ``app.py``, so each is imported under a name of its own. The local stack
is one execution environment for all of them: invocations run one at a time (the resolvers and
Powertools utilities keep per-invocation state in module globals, as they may in Lambda, where an
environment never serves two invocations at once).
"""

import importlib.util
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from local.sam import ACCOUNT_ID, FunctionSpec

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LocalContext:
    """The Lambda context object a handler receives (what Powertools reads of it)."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class LocalFunction:
    """One function: its template settings and its handler, imported."""

    spec: FunctionSpec
    handler: Handler
    region: str

    def context(self) -> LocalContext:
        return LocalContext(
            function_name=self.spec.logical_id,
            memory_limit_in_mb=self.spec.memory_mb,
            invoked_function_arn=f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.spec.logical_id}",
            timeout_seconds=self.spec.timeout_seconds,
        )


class Invoker:
    """Invokes the functions by logical id, one invocation at a time."""

    def __init__(self, functions: Mapping[str, LocalFunction]) -> None:
        self.functions = dict(functions)
        self._lock = threading.Lock()

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """The handler's answer; its exceptions propagate (the caller decides what Lambda would do)."""
        function = self.functions[logical_id]
        with self._lock:
            return function.handler(event, function.context())


def load_handler(spec: FunctionSpec) -> Handler:
    """Import ``spec``'s handler module from its file, under a module name unique to the function."""
    path = spec.module_path
    if not path.is_file():
        raise FileNotFoundError(f"{spec.logical_id}: handler file {path} not found (CodeUri + Handler)")
    module_spec = importlib.util.spec_from_file_location(f"local_functions.{spec.logical_id}", path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"{spec.logical_id}: cannot import {path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    handler: Handler = getattr(module, spec.attribute)
    return handler


def load_functions(specs: Mapping[str, FunctionSpec], region: str) -> dict[str, LocalFunction]:
    """Every function of the template, imported (after the environment is set: modules read it at import)."""
    return {
        logical_id: LocalFunction(spec=spec, handler=load_handler(spec), region=region)
        for logical_id, spec in specs.items()
    }
