"""SAM's own emulation, in Docker: the built functions in Lambda containers against the local stack.

``make sam-local`` runs ``make build`` and then this folder (``make test`` leaves it out: it needs Docker).
Once per session: the Lambda base image (the official one when it can be pulled, else the stand-in
``scripts/build-lambda-image.sh`` builds, once, cached by Docker), a copy of the built template with
timeouts for emulated CPUs, ``.pyc`` files for the built code, and the local stack (``python -m local``)
listening where containers reach it. The functions get the local stack's table names and its DynamoDB
(``AWS_ENDPOINT_URL``, its queue and its key) from ``env.json``, as ``make invoke`` gives them.
"""

import compileall
import json
import os
import platform
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from local.process import RunningStack, run_local_stack
from local.template import ROOT, load_template, template

BUILD_DIR = ROOT / ".aws-sam" / "build"
SAM = ROOT / "bin" / "sam"
ARCHITECTURE = template()["Globals"]["Function"]["Architectures"][0]
OFFICIAL_IMAGE = f"public.ecr.aws/lambda/python:3.13-{ARCHITECTURE}"
DOCKER_HOST_NAME = "host.docker.internal"
# A cold start under qemu takes about 20 s (compiled code), minutes on a loaded machine; the template's 10 s
# is for real arm64 CPUs.
EMULATED_TIMEOUT_SECONDS = 600
START_TIMEOUT_SECONDS = 600
REGION = "us-east-1"
# SAM's answer when it (re)creates a container under qemu and posts the event before the emulated runtime
# listens (the event never reaches the function): such an invoke is sent again, at most this many times.
NO_RESPONSE_ATTEMPTS = 3
_TIMINGS: list[tuple[str, str, float]] = []  # (step, what, seconds), printed at the end


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``docker ARGS``; its output, whatever its exit code."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


def remove_lambda_containers() -> None:
    """Containers SAM started and left behind (a stopped ``start-api`` can leave its warm ones)."""
    found = docker("ps", "-aq", "--filter", "label=sam.cli.container.type=lambda").stdout.split()
    if found:
        docker("rm", "-f", *found)


@pytest.fixture(autouse=True)
def aws_environment() -> None:
    """Replaces the suite's fake-AWS environment: these tests talk to the local stack's endpoint."""


@pytest.fixture(scope="session")
def docker_engine() -> None:
    try:
        answer = docker("info", "--format", "{{.ServerVersion}}", timeout=30)
    except FileNotFoundError:
        pytest.fail("Docker is not installed: install Docker (on Debian, as root: scripts/ci/docker.sh)")
    if answer.returncode != 0:
        pytest.fail(f"Docker does not answer ({answer.stderr.strip()}): start it (on Debian: scripts/ci/docker.sh)")
    machine = {"arm64": "aarch64", "x86_64": "x86_64"}[ARCHITECTURE]
    if machine != platform.machine() and not Path(f"/proc/sys/fs/binfmt_misc/qemu-{machine}").exists():
        pytest.fail(f"{ARCHITECTURE} containers need qemu-user-static in binfmt_misc (on Debian: scripts/ci/docker.sh)")


@pytest.fixture(scope="session")
def invoke_image_options(docker_engine: None) -> list[str]:
    """Nothing when the official base image is here or can be pulled; else the stand-in's ``--invoke-image``."""
    if docker("image", "inspect", OFFICIAL_IMAGE).returncode == 0:
        return []
    if docker("pull", "--quiet", OFFICIAL_IMAGE, timeout=600).returncode == 0:
        return []
    started = time.monotonic()
    built = subprocess.run(
        [str(ROOT / "scripts" / "build-lambda-image.sh"), ARCHITECTURE],
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    assert built.returncode == 0, f"the stand-in image did not build:\n{built.stderr[-4000:]}"
    _TIMINGS.append(("image", f"{built.stdout.split()[-1]} (built or reused)", time.monotonic() - started))
    return ["--invoke-image", built.stdout.split()[-1], "--skip-pull-image"]


@pytest.fixture(scope="session")
def emulated_template(docker_engine: None) -> Path:
    """The built template with timeouts for emulated CPUs, beside it (CodeUri paths stay valid); code compiled."""
    built = BUILD_DIR / "template.yaml"
    if not built.exists():
        pytest.fail("no .aws-sam/build: run `make build` first (`make sam-local` does)")
    # Each cold start would compile every module: under qemu, about 57 s instead of 20 s.
    compileall.compile_dir(BUILD_DIR, quiet=1, workers=0)
    document = load_template(built)
    document["Globals"]["Function"]["Timeout"] = EMULATED_TIMEOUT_SECONDS
    for resource in document["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"].pop("Timeout", None)
    path = BUILD_DIR / "template.emulated.json"
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def bridge_address(docker_engine: None) -> str:
    """The host's address on Docker's default bridge: where ``host-gateway`` points containers."""
    answer = docker("network", "inspect", "bridge", "--format", "{{range .IPAM.Config}}{{.Gateway}}{{end}}")
    assert answer.returncode == 0 and answer.stdout.strip(), answer.stderr
    return answer.stdout.strip()


@pytest.fixture(scope="session")
def stack(bridge_address: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The local stack, its DynamoDB listening on the bridge address (containers cannot reach 127.0.0.1)."""
    log = tmp_path_factory.mktemp("stack") / "stack.log"
    with run_local_stack(log, dynamodb_host=bridge_address) as running:
        yield running


@dataclass
class Sam:
    """How to run ``bin/sam local ...`` against the local stack, and what each invoke took."""

    template: Path
    stack: RunningStack
    image_options: list[str]
    timings: list[tuple[str, str, float]] = field(default_factory=list)

    @property
    def environment(self) -> dict[str, str]:
        """SAM passes the shell's credentials and region to the functions: the local stack's, nothing else."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        return env | {
            "AWS_ACCESS_KEY_ID": self.stack.exports["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": self.stack.exports["AWS_SECRET_ACCESS_KEY"],
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "SAM_CLI_TELEMETRY": "0",
        }

    def options(self) -> list[str]:
        """What ``make invoke`` passes too: the env file, the host name containers reach the host by, the image."""
        return [
            "--template-file",
            str(self.template),
            "--env-vars",
            str(self.env_vars),
            "--add-host",
            f"{DOCKER_HOST_NAME}:host-gateway",
            *self.image_options,
        ]

    @property
    def env_vars(self) -> Path:
        """env.json, with the port of this stack's endpoint instead of ``make dev``'s."""
        port = self.stack.exports["AWS_ENDPOINT_URL"].rsplit(":", 1)[1]
        document = json.loads((ROOT / "env.json").read_text(encoding="utf-8"))
        endpoint = document["Parameters"]["AWS_ENDPOINT_URL"]
        assert endpoint.startswith(f"http://{DOCKER_HOST_NAME}:"), endpoint
        ours = f"http://{DOCKER_HOST_NAME}:{port}"
        document["Parameters"] = {
            name: value.replace(endpoint, ours) if value.startswith(endpoint) else value
            for name, value in document["Parameters"].items()
        }
        path = self.stack.log_path.parent / "env.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        return path

    def timed(self, kind: str, name: str, seconds: float) -> None:
        self.timings.append((kind, name, seconds))


@pytest.fixture(scope="session")
def sam(emulated_template: Path, stack: RunningStack, invoke_image_options: list[str]) -> Sam:
    return Sam(emulated_template, stack, invoke_image_options, _TIMINGS)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SamServer:
    """A running ``sam local start-lambda`` or ``start-api``."""

    url: str
    log_path: Path


@contextmanager
def sam_server(sam: Sam, command: str, log_dir: Path) -> Iterator[SamServer]:
    """``bin/sam local <command>`` (start-lambda, start-api) with warm containers, once it listens; then stopped."""
    port = free_port()
    log_path = log_dir / f"{command}.log"
    args = [str(SAM), "local", command, "--host", "127.0.0.1", "--port", str(port), "--warm-containers", "EAGER"]
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*args, *sam.options()],
            cwd=ROOT,
            env=sam.environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for_port(process, port, log_path)
        sam.timed(command, "until listening", time.monotonic() - started)
        yield SamServer(f"http://127.0.0.1:{port}", log_path)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        remove_lambda_containers()


def _wait_for_port(process: "subprocess.Popen[bytes]", port: int, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"sam exited with {process.returncode}:\n{log_path.read_text(errors='replace')[-4000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    pytest.fail(f"sam did not listen in {START_TIMEOUT_SECONDS} s:\n{log_path.read_text(errors='replace')[-4000:]}")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """What each step took (measured, never asserted)."""
    if not _TIMINGS:
        return
    terminalreporter.section("sam local timings (seconds)")
    for kind, name, seconds in _TIMINGS:
        terminalreporter.write_line(f"{kind:<14} {name:<48} {seconds:7.2f}")
