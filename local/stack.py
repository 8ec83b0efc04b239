"""The whole local stack: embedded AWS, the API, the stream pollers; configured from template.yaml.

``LocalStack(settings).start()`` sets the functions' environment in this process, so it is meant for
a process of its own (``python -m local``, or the e2e fixture's subprocess).
"""

import json
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from beacon.settings import get_settings
from local import aws
from local.caches import build_caches, reset_caches
from local.gateway import Gateway
from local.lambdas import Invoker, load_functions, share_layer_between_lanes
from local.queues import QueuePoller
from local.sam import (
    LocalResources,
    TemplateError,
    cors_configuration,
    environment,
    functions,
    http_routes,
    parameter_values,
    parse_parameter_overrides,
    queue_mappings,
    stream_mappings,
)
from local.streams import GivenUp, StreamPoller, print_given_up
from local.template import template
from ops.stack_outputs import OUTPUT_TO_ENV

REGION = "us-east-1"
STACK_NAME = "beacon-local"
PROJECT = "local"
# Variables that would send the functions' AWS calls elsewhere than the embedded AWS.
_FOREIGN_AWS_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


@dataclass(frozen=True)
class StackSettings:
    """What can be chosen when starting the local stack (environment variables of ``make dev``)."""

    port: int = 3000
    dynamodb_port: int = 8000
    # Where the embedded AWS listens: another address than 127.0.0.1 lets containers (`sam local`) reach it.
    dynamodb_host: str = "127.0.0.1"
    public_key: str = "pk_local_dev"
    secret_key: str = "sk_local_dev"
    parameter_overrides: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> "StackSettings":
        """PORT, DYNAMODB_PORT, DYNAMODB_HOST, BEACON_PUBLIC_KEY, BEACON_SECRET_KEY, PARAMETER_OVERRIDES, where set."""
        env = dict(os.environ if env is None else env)
        defaults = cls()
        return cls(
            port=int(env.get("PORT") or defaults.port),
            dynamodb_port=int(env.get("DYNAMODB_PORT") or defaults.dynamodb_port),
            dynamodb_host=env.get("DYNAMODB_HOST") or defaults.dynamodb_host,
            public_key=env.get("BEACON_PUBLIC_KEY") or defaults.public_key,
            secret_key=env.get("BEACON_SECRET_KEY") or defaults.secret_key,
            parameter_overrides=parse_parameter_overrides(env.get("PARAMETER_OVERRIDES", "")),
        )


class LocalStack:
    """Starts and stops everything; ``url``, ``aws_endpoint`` and ``environment`` describe it once started."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        document = template()
        self.resources = LocalResources(
            region=REGION,
            stack_name=STACK_NAME,
            parameters=parameter_values(settings.parameter_overrides, document),
            conditions=document.get("Conditions", {}),
        )
        self.specs = functions(document)
        self.cors = cors_configuration(document)
        self.aws = aws.EmbeddedAws(settings.dynamodb_port, settings.dynamodb_host)
        self.in_process: aws.InProcessCalls | None = None
        self.environment: dict[str, str] = {}
        self.gateway: Gateway | None = None
        self.pollers: list[StreamPoller] = []
        self.queue_pollers: list[QueuePoller] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        assert self.gateway is not None, "start() first"
        return self.gateway.url

    @property
    def aws_endpoint(self) -> str:
        return self.aws.endpoint

    def start(self) -> None:
        """Embedded AWS, tables, keys, environment, functions, stream pollers, then the API."""
        self.aws.start()
        self.in_process = aws.InProcessCalls(self.aws_endpoint)
        self.in_process.install()
        aws.create_resources(self.aws_endpoint, self.resources)
        self._set_environment()
        aws.seed_keys(
            self.aws_endpoint,
            REGION,
            get_settings().api_keys_table_name,
            PROJECT,
            self.settings.public_key,
            self.settings.secret_key,
        )
        invoker = Invoker(load_functions(self.specs, REGION))
        # Lanes run side by side from here on: what they share of the layer is made safe for that first.
        share_layer_between_lanes()
        build_caches()
        self._make_pollers(invoker)
        self.gateway = Gateway(http_routes(self.specs), invoker.invoke, port=self.settings.port, cors=self.cors)
        runners = [(f"stream-{p.mapping.function}", p.run) for p in self.pollers]
        runners += [(f"queue-{p.mapping.function}", p.run) for p in self.queue_pollers]
        for name, run in runners:
            thread = threading.Thread(target=run, args=(self._stop,), name=name)
            thread.start()
            self._threads.append(thread)
        self.gateway.start()

    def _set_environment(self) -> None:
        """The functions' environment in this process's, with nothing of another AWS account or endpoint left."""
        self.environment = self._function_environment()
        for name in _FOREIGN_AWS_VARIABLES:
            os.environ.pop(name, None)
        for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")]:
            os.environ.pop(name)
        # Every function runs in this one process: the union of their variables is set once, here.
        os.environ.update(self.environment)
        reset_caches()

    def _make_pollers(self, invoker: Invoker) -> None:
        """The event source mappings of the template: a poller for each enabled stream and each queue."""
        streams = aws.dynamodb_streams(self.aws_endpoint, REGION)
        for mapping in stream_mappings(self.specs, self.resources):
            if not mapping.enabled:
                continue
            poller = StreamPoller(
                mapping,
                self.resources.table_stream_arns[mapping.table],
                streams,
                invoker.invoke,
                region=REGION,
                on_give_up=self._on_give_up(mapping.on_failure_destination),
            )
            poller.refresh_shards()  # before the API serves: StartingPosition LATEST must not miss a write
            self.pollers.append(poller)
        queues = aws.sqs(self.aws_endpoint, REGION)
        self.queue_pollers = [
            QueuePoller(
                mapping,
                self.resources.queue_urls[mapping.queue],
                self.resources.queue_arn(mapping.queue),
                queues,
                invoker.invoke,
            )
            for mapping in queue_mappings(self.specs)
        ]

    def stop(self) -> None:
        """Stop serving, let the pollers finish their batch, stop the embedded AWS."""
        if self.gateway is not None:
            self.gateway.stop()
        self._stop.set()
        for thread in self._threads:
            thread.join()
        if self.in_process is not None:
            self.in_process.uninstall()
        self.aws.stop()

    def cli_environment(self) -> dict[str, str]:
        """What ``bin/beacon`` needs to work on this stack: the AWS endpoint, and the stack outputs it reads."""
        names = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION")
        exports = {name: self.environment[name] for name in names}
        for name, output in template().get("Outputs", {}).items():
            if name not in OUTPUT_TO_ENV:
                continue
            if "Condition" in output and not self.resources.condition(output["Condition"]):
                continue
            try:
                exports[OUTPUT_TO_ENV[name]] = str(self.resources.resolve(output["Value"]))
            except TemplateError:
                continue
        # For `bin/beacon import`: this stack's URL (the ApiUrl output names API Gateway's) and its public key.
        exports["BEACON_API_URL"] = self.url
        exports["BEACON_API_KEY"] = self.settings.public_key
        return exports

    def _function_environment(self) -> dict[str, str]:
        return {
            **environment(self.specs, self.resources),
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_ACCESS_KEY_ID": aws.ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": aws.SECRET_ACCESS_KEY,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            # Keep the terminal readable: no X-Ray segments, no EMF metric blobs.
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }

    def _on_give_up(self, destination: str | None) -> Callable[[GivenUp], None]:
        queues_by_arn = {self.resources.queue_arn(name): url for name, url in self.resources.queue_urls.items()}
        queue_url = queues_by_arn.get(destination or "")
        queues = aws.sqs(self.aws_endpoint, REGION) if queue_url else None

        def on_give_up(given_up: GivenUp) -> None:
            print_given_up(given_up)
            if queues is not None and queue_url is not None:
                queues.send_message(QueueUrl=queue_url, MessageBody=json.dumps(given_up.failure_record))
                print(f"  (also sent to the on-failure queue {queue_url})", file=sys.stderr, flush=True)

        return on_give_up
