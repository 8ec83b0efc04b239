"""The functions that template.yaml declares (read through local/sam.py), with what a benchmark needs to run each one.

Table names are the tables' logical ids (the benchmarks create them so), parameters take their defaults.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local import sam
from local.template import ROOT, resources_of_type, table_definitions, template

EVENTS_DIR = ROOT / "events"
REGION = "us-east-1"


@dataclass(frozen=True)
class FunctionSpec:
    """One ``AWS::Serverless::Function``: where its code is, its handler, its resolved environment and a ready event."""

    logical_id: str
    code_dir: Path
    module: str
    handler: str
    environment: dict[str, str]
    event_file: Path | None = None

    @property
    def name(self) -> str:
        return self.code_dir.name

    def event(self) -> dict[str, Any] | None:
        """A copy of the function's ready event from events/, if it has one."""
        return json.loads(self.event_file.read_text(encoding="utf-8")) if self.event_file else None


def _resources(overrides: Mapping[str, str] | None = None) -> sam.LocalResources:
    document = template()
    queues = resources_of_type("AWS::SQS::Queue", document)
    keys = resources_of_type("AWS::KMS::Key", document)
    return sam.LocalResources(
        region=REGION,
        stack_name="bench",
        parameters=sam.parameter_values(dict(overrides or {}), document),
        conditions=document.get("Conditions", {}),
        tables={logical_id: logical_id for logical_id in table_definitions()},
        queue_urls={
            logical_id: f"https://sqs.{REGION}.amazonaws.com/{sam.ACCOUNT_ID}/{logical_id}" for logical_id in queues
        },
        key_names={logical_id: f"alias/bench-{logical_id}" for logical_id in keys},
    )


def _ready_event(spec: sam.FunctionSpec) -> Path | None:
    """events/<function folder>.json: every function of the template has one (tests/unit/test_readme.py holds it)."""
    path = EVENTS_DIR / f"{spec.code_path.name}.json"
    return path if path.exists() else None


def function_specs(overrides: Mapping[str, str] | None = None) -> list[FunctionSpec]:
    """Every function of template.yaml, in template order (its parameters at their defaults, or ``overrides``)."""
    resources = _resources(overrides)
    specs = []
    for logical_id, spec in sam.functions().items():
        resolved = {name: resources.resolve(value) for name, value in spec.environment.items()}
        module, _, handler = spec.handler.rpartition(".")
        specs.append(
            FunctionSpec(
                logical_id=logical_id,
                code_dir=spec.code_path.resolve(),
                module=module,
                handler=handler,
                environment={name: str(value) for name, value in resolved.items() if value is not sam.NO_VALUE},
                event_file=_ready_event(spec),
            )
        )
    return specs


def in_process_environment(specs: list[FunctionSpec]) -> dict[str, str]:
    """The template's variables (every function's; the first function's where they differ) with fake
    credentials and the Tracer off: handlers run in this process."""
    environment: dict[str, str] = {}
    for spec in reversed(specs):
        environment.update(spec.environment)
    environment.update(
        {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    return environment
