"""template.yaml as data: a YAML loader that keeps CloudFormation's short-form intrinsics.

``!Ref X`` becomes ``{"Ref": "X"}``, ``!GetAtt A.B`` becomes ``{"Fn::GetAtt": ["A", "B"]}`` and so
on, so that tests, build checks and the local stack read the one template instead of a copy of it.
"""

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"


class _TemplateLoader(yaml.SafeLoader):
    pass


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{suffix}", node.start_mark)
    return {name: value}


_TemplateLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as a dict; intrinsic functions kept in their long form."""
    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=_TemplateLoader)
    return document


@lru_cache(maxsize=1)
def template() -> dict[str, Any]:
    """template.yaml, read once."""
    return load_template()


def resources_of_type(resource_type: str, document: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for every resource of one type."""
    resources = (document or template())["Resources"]
    return {name: res for name, res in resources.items() if res["Type"] == resource_type}


def table_definitions(document: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Logical id -> CreateTable arguments (keys, indexes, stream) of every DynamoDB table in the template."""
    definitions = {}
    for name, resource in resources_of_type("AWS::DynamoDB::Table", document).items():
        props = resource["Properties"]
        definition: dict[str, Any] = {
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if "GlobalSecondaryIndexes" in props:
            definition["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if "StreamSpecification" in props:
            definition["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        definitions[name] = definition
    return definitions
