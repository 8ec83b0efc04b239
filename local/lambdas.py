"""The functions of template.yaml, loaded from their CodeUri and Handler and invoked in this process.

Every handler file is called ``app.py``, so each is imported under a name of its own. In Lambda each
function has execution environments of its own, each serving one invocation at a time; here every
function runs in this one process, where Powertools and the ``beacon`` layer are imported once, so
some of what Lambda keeps apart is shared. Invocations run in *lanes*, one invocation at a time per
lane, lanes side by side:

- the functions of the HTTP API share one lane: Powertools' event handler keeps the event being
  resolved in a class attribute (``BaseRouter.current_event``), one for every resolver of the
  process, so two API functions must not resolve at once (the layer's idempotency store and its
  configuration are shared by the two write functions too);
- every other function (the stream's) has a lane of its own: an API request never waits for a
  stream batch, whose hundreds of summary writes take hundreds of milliseconds.

What lanes still share is made safe by ``share_layer_between_lanes`` (and ``local.caches.build_caches``
builds the layer's lazy clients up front): the logger's appended keys (``correlation_id``, ...) and the
metrics' sets (the metrics, dimensions and metadata that make an invocation's one line) are kept per thread,
so that a line names the invocation that wrote it and holds its metrics only, and they are changed and
serialized under a lock (Powertools, with metrics disabled, empties them only every 100 values).
"""

import functools
import importlib.util
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
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


API_LANE = "HttpApi"


def lane_of(spec: FunctionSpec) -> str:
    """The lane a function runs in: ``API_LANE`` for the functions of the HTTP API, else its own."""
    if any(event.get("Type") == "HttpApi" for event in spec.events.values()):
        return API_LANE
    return spec.logical_id


class Invoker:
    """Invokes the functions by logical id: one invocation at a time per lane (``lane_of``), lanes side by side."""

    def __init__(self, functions: Mapping[str, LocalFunction]) -> None:
        self.functions = dict(functions)
        lanes = {lane_of(function.spec) for function in self.functions.values()}
        self._lanes = {lane: threading.Lock() for lane in sorted(lanes)}

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """The handler's answer; its exceptions propagate (the caller decides what Lambda would do)."""
        function = self.functions[logical_id]
        with self._lanes[lane_of(function.spec)]:
            return function.handler(event, function.context())


def share_layer_between_lanes() -> None:
    """Make the layer's Powertools logger and metrics safe for invocations in several lanes at once (idempotent)."""
    from beacon.observability import logger, metrics

    _keys_per_thread(logger.registered_formatter)
    provider = metrics.provider
    if getattr(provider, "_local_locked", False):
        return
    _sets_per_thread(provider)
    lock = threading.RLock()
    for name in (
        "add_metric",
        "add_dimension",
        "add_dimensions",
        "add_metadata",
        "serialize_metric_set",
        "flush_metrics",
        "clear_metrics",
    ):
        setattr(provider, name, _under(lock, getattr(provider, name)))
    provider._local_locked = True  # type: ignore[attr-defined]


def _under[M: Callable[..., Any]](lock: AbstractContextManager[Any], method: M) -> M:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return locked  # type: ignore[return-value]


# What a Powertools metrics provider collects during one invocation, and what each thread starts from.
_INVOCATION_SETS: dict[str, Callable[[Any], Any]] = {
    "metric_set": lambda provider: {},
    "dimension_set": lambda provider: dict(provider.default_dimensions),
    "metadata_set": lambda provider: {},
    "dimension_sets": lambda provider: [],
}


def _sets_per_thread(provider: Any) -> None:
    """Give ``provider`` (a Powertools metrics provider) its invocation's sets per thread (``_INVOCATION_SETS``)."""
    if getattr(type(provider), "_local_sets_per_thread", False):
        return
    for name in _INVOCATION_SETS:
        provider.__dict__.pop(name, None)
    local = threading.local()

    def per_thread(name: str, start: Callable[[Any], Any]) -> property:
        def get(self: Any) -> Any:
            if not hasattr(local, name):
                setattr(local, name, start(self))
            return getattr(local, name)

        def set_(self: Any, value: Any) -> None:
            setattr(local, name, value)

        return property(get, set_)

    base = type(provider)
    namespace: dict[str, Any] = {name: per_thread(name, start) for name, start in _INVOCATION_SETS.items()}
    namespace["_local_sets_per_thread"] = True
    provider.__class__ = type(f"PerThread{base.__name__}", (base,), namespace)


def _keys_per_thread(formatter: Any) -> None:
    """Give ``formatter`` (a Powertools formatter) one ``log_format`` (its appended keys) per thread.

    Each thread starts from the keys the formatter had when this was called (service, level, ...).
    """
    if getattr(type(formatter), "_local_keys_per_thread", False):
        return
    shared: dict[str, Any] = dict(formatter.__dict__.pop("log_format"))
    local = threading.local()

    def get(self: Any) -> dict[str, Any]:
        keys: dict[str, Any] | None = getattr(local, "keys", None)
        if keys is None:
            keys = local.keys = dict(shared)
        return keys

    def set_(self: Any, value: dict[str, Any]) -> None:
        local.keys = value

    base = type(formatter)
    namespace = {"log_format": property(get, set_), "_local_keys_per_thread": True}
    formatter.__class__ = type(f"PerThread{base.__name__}", (base,), namespace)


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
