"""What SAM and CloudFormation make of template.yaml, for the local stack.

Functions with their Globals merged in, the HTTP API routes that reach each function, the DynamoDB
stream event source mappings, and the intrinsic functions (``!Ref``, ``!GetAtt``, ``!Sub``, ``!If``...)
that the functions' environment variables use, resolved against the local resources.
"""

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from local.template import ROOT, resources_of_type, template

ACCOUNT_ID = "123456789012"
NO_VALUE = object()
"""What ``!Ref AWS::NoValue`` resolves to: the property is left out."""


class TemplateError(ValueError):
    """template.yaml uses something the local stack cannot reproduce."""


@dataclass
class LocalResources:
    """Physical names of the local resources, by logical id, and the values of the template's parameters."""

    region: str
    stack_name: str
    parameters: dict[str, str]
    conditions: dict[str, Any]
    tables: dict[str, str] = field(default_factory=dict)
    table_stream_arns: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    key_arns: dict[str, str] = field(default_factory=dict)
    key_names: dict[str, str] = field(default_factory=dict)  # what !Ref gives: an alias, known before the stack runs

    def table_arn(self, logical_id: str) -> str:
        return f"arn:aws:dynamodb:{self.region}:{ACCOUNT_ID}:table/{self.tables[logical_id]}"

    def queue_arn(self, logical_id: str) -> str:
        return f"arn:aws:sqs:{self.region}:{ACCOUNT_ID}:{self.queue_urls[logical_id].rsplit('/', 1)[-1]}"

    # ------------------------------------------------------------ intrinsics

    def resolve(self, value: Any) -> Any:
        """A template value with its intrinsic functions evaluated (``NO_VALUE`` for ``AWS::NoValue``)."""
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: r for k, r in ((k, self.resolve(v)) for k, v in value.items()) if r is not NO_VALUE}
        (name, argument), *_ = value.items()
        intrinsic = self._intrinsics.get(name)
        if intrinsic is not None:
            return intrinsic(self, argument)
        if name in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"):
            return self._evaluate(value)
        if name.startswith("Fn::"):
            raise TemplateError(f"{name} is not supported by the local stack (local/sam.py)")
        return {name: self.resolve(argument)}

    def _if(self, argument: list[Any]) -> Any:
        condition, if_true, if_false = argument
        return self.resolve(if_true if self.condition(condition) else if_false)

    def _join(self, argument: list[Any]) -> str:
        separator, parts = argument
        return str(separator).join(str(p) for p in self.resolve(parts))

    _intrinsics: ClassVar[dict[str, Callable[["LocalResources", Any], Any]]] = {
        "Ref": lambda self, argument: self._ref(argument),
        "Fn::GetAtt": lambda self, argument: self._get_att(*argument),
        "Fn::Sub": lambda self, argument: self._sub(argument),
        "Fn::If": lambda self, argument: self._if(argument),
        "Fn::Join": lambda self, argument: self._join(argument),
    }

    def condition(self, name: str) -> bool:
        """The value of a condition of the template's ``Conditions`` section."""
        if name not in self.conditions:
            raise TemplateError(f"unknown condition {name}")
        return bool(self._evaluate(self.conditions[name]))

    def _evaluate(self, expression: Any) -> Any:
        if not isinstance(expression, dict) or len(expression) != 1:
            return self.resolve(expression)
        (name, argument), *_ = expression.items()
        if name == "Fn::Equals":
            left, right = (self.resolve(a) for a in argument)
            return str(left) == str(right)
        if name == "Fn::Not":
            return not self._evaluate(argument[0])
        if name == "Fn::And":
            return all(self._evaluate(a) for a in argument)
        if name == "Fn::Or":
            return any(self._evaluate(a) for a in argument)
        if name == "Condition":
            return self.condition(argument)
        return self.resolve(expression)

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.tables:
            return self.tables[name]
        if name in self.queue_urls:
            return self.queue_urls[name]
        if name in self.key_names:
            return self.key_names[name]
        raise TemplateError(f"!Ref {name}: the local stack has no such parameter or resource")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        if logical_id in self.tables and attribute == "Arn":
            return self.table_arn(logical_id)
        if logical_id in self.table_stream_arns and attribute == "StreamArn":
            return self.table_stream_arns[logical_id]
        if logical_id in self.queue_urls and attribute == "Arn":
            return self.queue_arn(logical_id)
        if logical_id in self.queue_urls and attribute == "QueueUrl":
            return self.queue_urls[logical_id]
        if logical_id in self.queue_urls and attribute == "QueueName":
            return self.queue_urls[logical_id].rsplit("/", 1)[-1]
        if logical_id in self.key_arns and attribute == "Arn":
            return self.key_arns[logical_id]
        raise TemplateError(f"!GetAtt {logical_id}.{attribute} is not available locally")

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {name: self.resolve(v) for name, v in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name:
                return self._get_att(*name.split(".", 1))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}!]+)\}", substitute, text)


def parameter_values(overrides: Mapping[str, str], document: dict[str, Any] | None = None) -> dict[str, str]:
    """Every parameter's value: its ``Default``, unless ``overrides`` names it (as ``sam --parameter-overrides``)."""
    declared = (document or template()).get("Parameters", {})
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateError(f"unknown template parameter(s): {', '.join(sorted(unknown))}")
    values = {}
    for name, spec in declared.items():
        if name in overrides:
            values[name] = overrides[name]
        elif "Default" in spec:
            values[name] = str(spec["Default"])
        else:
            raise TemplateError(f"parameter {name} has no Default; give it one with PARAMETER_OVERRIDES")
    return values


def parse_parameter_overrides(text: str) -> dict[str, str]:
    """``"LogLevel=DEBUG SessionTimeoutSeconds=60"`` (the short syntax of ``sam --parameter-overrides``) as a dict."""
    overrides = {}
    for pair in text.split():
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise TemplateError(f"parameter override {pair!r} is not Name=Value")
        overrides[name] = value
    return overrides


# ---------------------------------------------------------------- functions


@dataclass(frozen=True)
class FunctionSpec:
    """One ``AWS::Serverless::Function`` with the template's Globals applied."""

    logical_id: str
    code_path: Path
    handler: str
    timeout_seconds: int
    memory_mb: int
    environment: dict[str, Any]
    events: dict[str, dict[str, Any]]

    @property
    def module_path(self) -> Path:
        """The handler's file: ``Handler: app.lambda_handler`` with ``CodeUri: functions/x/`` is functions/x/app.py."""
        module = self.handler.rsplit(".", 1)[0]
        return self.code_path / (module.replace(".", "/") + ".py")

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]


def functions(document: dict[str, Any] | None = None) -> dict[str, FunctionSpec]:
    """Logical id -> every serverless function of the template, Globals merged as SAM merges them."""
    document = document or template()
    defaults = document.get("Globals", {}).get("Function", {})
    specs = {}
    for logical_id, resource in resources_of_type("AWS::Serverless::Function", document).items():
        props = resource.get("Properties", {})
        code_uri = props.get("CodeUri", defaults.get("CodeUri"))
        if not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id}: the local stack needs CodeUri to be a folder of the repository")
        environment = {
            **defaults.get("Environment", {}).get("Variables", {}),
            **props.get("Environment", {}).get("Variables", {}),
        }
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_path=ROOT / code_uri,
            handler=props.get("Handler", defaults.get("Handler", "app.lambda_handler")),
            timeout_seconds=int(props.get("Timeout", defaults.get("Timeout", 3))),
            memory_mb=int(props.get("MemorySize", defaults.get("MemorySize", 128))),
            environment=environment,
            events=props.get("Events", {}) or {},
        )
    return specs


def environment(specs: Mapping[str, FunctionSpec], resources: LocalResources) -> dict[str, str]:
    """The union of the functions' environment variables, resolved; two different values for one name fail."""
    merged: dict[str, str] = {}
    owners: dict[str, str] = {}
    for spec in specs.values():
        for name, raw in spec.environment.items():
            value = resources.resolve(raw)
            if value is NO_VALUE:
                continue
            text = json.dumps(value) if isinstance(value, dict | list) else str(value)
            if isinstance(value, bool):
                text = text.lower()
            if name in merged and merged[name] != text:
                raise TemplateError(
                    f"{name} is {merged[name]!r} for {owners[name]} but {text!r} for {spec.logical_id}; "
                    "the local stack runs every function in one process and needs one value"
                )
            merged[name], owners[name] = text, spec.logical_id
    return merged


# ---------------------------------------------------------------- HTTP API routes


@dataclass(frozen=True)
class Route:
    """``Method Path`` of an HttpApi event and the function it invokes (``$default`` when it has no Path)."""

    function: str
    method: str
    path: str

    @property
    def route_key(self) -> str:
        return "$default" if self.is_default else f"{self.method} {self.path}"

    @property
    def is_default(self) -> bool:
        return self.path == "$default"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when this route takes ``method path``, else None."""
        if self.is_default or self.method not in ("ANY", method):
            return None
        pattern = ""
        for part in self.path.strip("/").split("/"):
            if part.startswith("{") and part.endswith("+}"):
                pattern += f"/(?P<{part[1:-2]}>.+)"
            elif part.startswith("{") and part.endswith("}"):
                pattern += f"/(?P<{part[1:-1]}>[^/]+)"
            else:
                pattern += "/" + re.escape(part)
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None

    @property
    def specificity(self) -> tuple[int, int, int]:
        """API Gateway prefers literal segments over ``{param}`` over ``{greedy+}``; higher sorts first."""
        parts = self.path.strip("/").split("/")
        greedy = sum(p.endswith("+}") for p in parts)
        params = sum(p.startswith("{") for p in parts) - greedy
        return (-greedy, len(parts) - params - greedy, self.method != "ANY")


def http_routes(specs: Mapping[str, FunctionSpec]) -> list[Route]:
    """Every HttpApi route of the template, most specific first, ``$default`` last."""
    routes = []
    for spec in specs.values():
        for name, event in spec.events.items():
            if event.get("Type") != "HttpApi":
                continue
            props = event.get("Properties", {}) or {}
            path, method = props.get("Path"), props.get("Method")
            if path is None:
                routes.append(Route(spec.logical_id, "ANY", "$default"))
            elif method is None:
                raise TemplateError(f"{spec.logical_id}.{name}: an HttpApi event with a Path needs a Method")
            else:
                routes.append(Route(spec.logical_id, "ANY" if method in ("*", "ANY", "any") else method.upper(), path))
    defaults = [r for r in routes if r.is_default]
    if len(defaults) > 1:
        raise TemplateError("more than one function declares the $default route")
    return sorted((r for r in routes if not r.is_default), key=lambda r: r.specificity, reverse=True) + defaults


@dataclass(frozen=True)
class CorsConfiguration:
    """An HTTP API's ``CorsConfiguration``: API Gateway answers preflights with it and adds it to responses."""

    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False

    def allows_origin(self, origin: str) -> bool:
        return "*" in self.allow_origins or origin in self.allow_origins

    def allows_method(self, method: str) -> bool:
        return "*" in self.allow_methods or method.upper() in self.allow_methods


def cors_configuration(document: dict[str, Any] | None = None) -> CorsConfiguration | None:
    """The template's HTTP API ``CorsConfiguration`` (``true``: every origin, method and header), or None."""
    for api in resources_of_type("AWS::Serverless::HttpApi", document).values():
        config = (api.get("Properties") or {}).get("CorsConfiguration")
        if config is True:
            return CorsConfiguration(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",))
        if isinstance(config, dict):
            max_age = config.get("MaxAge")
            return CorsConfiguration(
                allow_origins=tuple(str(o) for o in config.get("AllowOrigins", [])),
                allow_methods=tuple(str(m).upper() for m in config.get("AllowMethods", [])),
                allow_headers=tuple(str(h).lower() for h in config.get("AllowHeaders", [])),
                expose_headers=tuple(str(h).lower() for h in config.get("ExposeHeaders", [])),
                max_age=None if max_age is None else int(max_age),
                allow_credentials=_flag(config.get("AllowCredentials", False)),
            )
    return None


# ---------------------------------------------------------------- stream event source mappings


@dataclass(frozen=True)
class StreamMapping:
    """A ``Type: DynamoDB`` event of a function: what Lambda's event source mapping is configured with."""

    function: str
    event_name: str
    table: str
    starting_position: str = "TRIM_HORIZON"
    batch_size: int = 100
    batching_window_seconds: float = 0
    parallelization_factor: int = 1
    filters: tuple[dict[str, Any], ...] = ()
    report_batch_item_failures: bool = False
    bisect_on_error: bool = False
    maximum_retry_attempts: int = -1
    maximum_record_age_seconds: int = -1
    on_failure_destination: str | None = None
    enabled: bool = True


def stream_mappings(specs: Mapping[str, FunctionSpec], resources: LocalResources) -> list[StreamMapping]:
    """Every DynamoDB stream event of the template's functions, with Lambda's defaults where it is silent."""
    mappings = []
    for spec in specs.values():
        for name, event in spec.events.items():
            if event.get("Type") != "DynamoDB":
                continue
            props = event.get("Properties", {}) or {}
            stream = props.get("Stream")
            if not (isinstance(stream, dict) and "Fn::GetAtt" in stream):
                raise TemplateError(f"{spec.logical_id}.{name}: Stream must be !GetAtt <Table>.StreamArn")
            table = stream["Fn::GetAtt"][0]
            criteria = resources.resolve(props.get("FilterCriteria", {})) or {}
            filters = tuple(
                json.loads(f["Pattern"]) if isinstance(f["Pattern"], str) else f["Pattern"]
                for f in criteria.get("Filters", [])
            )
            destination = resources.resolve(props.get("DestinationConfig", {})).get("OnFailure", {}).get("Destination")
            mappings.append(
                StreamMapping(
                    function=spec.logical_id,
                    event_name=name,
                    table=table,
                    starting_position=str(resources.resolve(props.get("StartingPosition", "TRIM_HORIZON"))),
                    batch_size=int(resources.resolve(props.get("BatchSize", 100))),
                    batching_window_seconds=float(resources.resolve(props.get("MaximumBatchingWindowInSeconds", 0))),
                    parallelization_factor=int(resources.resolve(props.get("ParallelizationFactor", 1))),
                    filters=filters,
                    report_batch_item_failures="ReportBatchItemFailures"
                    in resources.resolve(props.get("FunctionResponseTypes", [])),
                    bisect_on_error=_flag(resources.resolve(props.get("BisectBatchOnFunctionError", False))),
                    maximum_retry_attempts=int(resources.resolve(props.get("MaximumRetryAttempts", -1))),
                    maximum_record_age_seconds=int(resources.resolve(props.get("MaximumRecordAgeInSeconds", -1))),
                    on_failure_destination=destination if isinstance(destination, str) else None,
                    enabled=_flag(resources.resolve(props.get("Enabled", True))),
                )
            )
    return mappings


# ---------------------------------------------------------------- queue event source mappings


@dataclass(frozen=True)
class QueueMapping:
    """A ``Type: SQS`` event of a function: the queue Lambda polls for it, and how."""

    function: str
    queue: str  # logical id of the queue
    batch_size: int = 10
    report_batch_item_failures: bool = False


def queue_mappings(specs: Mapping[str, FunctionSpec]) -> list[QueueMapping]:
    """Every SQS event of the template's functions."""
    mappings = []
    for spec in specs.values():
        for name, event in spec.events.items():
            if event.get("Type") != "SQS":
                continue
            props = event.get("Properties", {}) or {}
            queue = props.get("Queue")
            if not (isinstance(queue, dict) and "Fn::GetAtt" in queue):
                raise TemplateError(f"{spec.logical_id}.{name}: Queue must be !GetAtt <Queue>.Arn")
            mappings.append(
                QueueMapping(
                    function=spec.logical_id,
                    queue=queue["Fn::GetAtt"][0],
                    batch_size=int(props.get("BatchSize", 10)),
                    report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                )
            )
    return mappings


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"
