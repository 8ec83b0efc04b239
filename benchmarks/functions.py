"""The functions that template.yaml declares, with what a benchmark needs to run each one like Lambda does."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.template import ROOT, template

EVENTS_DIR = ROOT / "events"
_BAD_EVENT_WORDS = ("invalid", "malformed", "no_key", "unknown", "preflight", "idempotent", "beacon")


@dataclass(frozen=True)
class FunctionSpec:
    """One ``AWS::Serverless::Function``: where its code is, its handler, its environment and a ready event."""

    logical_id: str
    code_dir: Path
    module: str
    handler: str
    environment: dict[str, str]
    routes: list[str] = field(default_factory=list)
    stream: bool = False
    event_file: Path | None = None

    @property
    def name(self) -> str:
        return self.code_dir.name

    def event(self) -> dict[str, Any] | None:
        """A copy of the function's ready event from events/, if it has one."""
        return json.loads(self.event_file.read_text(encoding="utf-8")) if self.event_file else None


def _resolve(value: Any, parameters: dict[str, Any]) -> str | None:
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, dict) and "Ref" in value:
        ref = value["Ref"]
        if ref in parameters:
            return str(parameters[ref].get("Default", ""))
        return str(ref)  # a resource: its logical id stands for the physical name
    return None


def _find_event(name: str, routes: list[str], stream: bool) -> Path | None:
    own = EVENTS_DIR / f"{name}.json"
    if own.exists():
        return own
    for path in sorted(EVENTS_DIR.glob("*.json")):
        if any(word in path.stem for word in _BAD_EVENT_WORDS):
            continue
        try:
            event = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        if stream and (event.get("Records") or [{}])[0].get("eventSource") == "aws:dynamodb":
            return path
        if not stream and event.get("routeKey") in routes:
            return path
    return None


def function_specs() -> list[FunctionSpec]:
    """Every function of template.yaml, in template order."""
    document = template()
    parameters = document.get("Parameters", {})
    global_env = document.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    specs = []
    for logical_id, resource in document["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        module, _, handler = props["Handler"].rpartition(".")
        variables = {**global_env, **props.get("Environment", {}).get("Variables", {})}
        environment = {k: v for k, v in ((k, _resolve(v, parameters)) for k, v in variables.items()) if v is not None}
        routes, stream = [], False
        for event in props.get("Events", {}).values():
            if event["Type"] in ("HttpApi", "Api") and "Path" in event.get("Properties", {}):
                routes.append(f"{event['Properties']['Method'].upper()} {event['Properties']['Path']}")
            if event["Type"] == "DynamoDB":
                stream = True
        code_dir = ROOT / str(props["CodeUri"]).rstrip("/")
        specs.append(
            FunctionSpec(
                logical_id=logical_id,
                code_dir=code_dir,
                module=module,
                handler=handler,
                environment=environment,
                routes=routes,
                stream=stream,
                event_file=_find_event(code_dir.name, routes, stream),
            )
        )
    return specs


def in_process_environment(specs: list[FunctionSpec]) -> dict[str, str]:
    """The template's variables with fake credentials and the Tracer off: handlers run in this process."""
    environment = {**specs[0].environment} if specs else {}
    environment.update(
        {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    return environment
