"""The functions template.yaml declares (read through local/sam.py): where their code is, their environment, an event.

Table names are the tables' logical ids (the benchmarks create them so), parameters take their defaults.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from local import sam
from local.template import ROOT, resources_of_type, table_definitions, template

EVENTS_DIR = ROOT / "events"


@dataclass(frozen=True)
class FunctionSpec:
    """One ``AWS::Serverless::Function``: its code, its handler, its resolved environment and its ready event."""

    logical_id: str
    code_dir: Path
    module: str
    handler: str
    environment: dict[str, str]
    event_file: Path | None = None

    @property
    def name(self) -> str:
        return self.code_dir.name


def function_specs(overrides: Mapping[str, str] | None = None) -> list[FunctionSpec]:
    """Every function of template.yaml, in template order (its parameters at their defaults, or ``overrides``)."""
    document = template()
    queues = resources_of_type("AWS::SQS::Queue", document)
    keys = resources_of_type("AWS::KMS::Key", document)
    resources = sam.LocalResources(
        region="us-east-1",
        stack_name="bench",
        parameters=sam.parameter_values(dict(overrides or {}), document),
        conditions=document.get("Conditions", {}),
        tables={logical_id: logical_id for logical_id in table_definitions()},
        queue_urls={name: f"https://sqs.us-east-1.amazonaws.com/{sam.ACCOUNT_ID}/{name}" for name in queues},
        key_names={name: f"alias/bench-{name}" for name in keys},
    )
    specs = []
    for logical_id, spec in sam.functions().items():
        resolved = {name: resources.resolve(value) for name, value in spec.environment.items()}
        environment = {name: str(value) for name, value in resolved.items() if value is not sam.NO_VALUE}
        module, _, handler = spec.handler.rpartition(".")
        event = EVENTS_DIR / f"{spec.code_path.name}.json"  # every function has one (tests/unit/test_readme.py)
        code_dir = spec.code_path.resolve()
        specs.append(
            FunctionSpec(logical_id, code_dir, module, handler, environment, event if event.exists() else None)
        )
    return specs
