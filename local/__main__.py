"""``python -m local`` (``make dev``): the whole API on this machine, in the foreground, until Ctrl-C.

Environment: PORT (3000), DYNAMODB_PORT (8000; 0 picks a free one), DYNAMODB_HOST (127.0.0.1; where
containers can reach it for ``sam local``), BEACON_PUBLIC_KEY and BEACON_SECRET_KEY (pk_local_dev /
sk_local_dev), PARAMETER_OVERRIDES ("LogLevel=DEBUG ...", the
template parameters, as ``sam --parameter-overrides`` takes them).
"""

import gc
import shlex
import signal
import sys
import threading
import warnings
from types import FrameType

from local.stack import PROJECT, LocalStack, StackSettings

# Python's default is 5 ms. Measured on 2 cores (single runs, noisy): p99 at 60 requests/s about 100 ms
# at 5 ms, 50 ms at 2 ms, 30 ms at 1 ms; the saturation rate a few percent lower for each step down.
SWITCH_INTERVAL_SECONDS = 0.002


def banner(stack: LocalStack) -> str:
    """What the terminal shows once everything is up: where, which keys, one request to try."""
    settings = stack.settings
    exports = stack.cli_environment()
    streams = [
        f"{p.mapping.table} stream -> {p.mapping.function} (batch {p.mapping.batch_size}, "
        f"window {p.mapping.batching_window_seconds:g} s, {len(p.mapping.filters)} filter(s))"
        for p in stack.pollers
    ]
    charge = '{"user_id": "user_42", "email": "ada@example.com", "amount": 4999}'
    lines = [
        "Beacon charges API: local stack (no Docker)",
        "",
        f"  API        {stack.url}",
        f"  DynamoDB   {stack.aws_endpoint}  (moto, in memory: the data lives until you stop)",
        *(f"  Stream     {line}" for line in streams),
        f"  Project    {PROJECT}",
        f"  Public key {settings.public_key}",
        f"  Secret key {settings.secret_key}",
        "",
        "Record a charge:",
        f"  curl -s {stack.url}/charges -H 'Authorization: Bearer {settings.public_key}' "
        f"-H 'Content-Type: application/json' -d '{charge}'",
        "",
        "Point bin/beacon (or the AWS CLI) at this stack, in another terminal:",
        *(f"  export {name}={shlex.quote(value)}" for name, value in exports.items()),
        "",
        "Ctrl-C stops.",
    ]
    return "\n".join(lines)


def main() -> int:
    # Lanes run side by side in threads (local.lambdas): an API request that gives up the interpreter
    # lock for I/O waits up to this long to get it back from a busy stream batch, several times per request.
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    # Powertools warns on every invocation that emits no metric: true, and noise in a terminal.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    try:
        settings = StackSettings.from_environment()
    except ValueError as exc:
        print(f"local stack: {exc}", file=sys.stderr)
        return 2
    stack = LocalStack(settings)
    try:
        stack.start()
    except OSError as exc:
        print(
            f"local stack: cannot listen ({exc}). Is another stack running? "
            "Choose other ports with PORT=... and DYNAMODB_PORT=...",
            file=sys.stderr,
        )
        return 1
    print(banner(stack), flush=True)
    stopped = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    print("\nstopping...", flush=True)
    stack.stop()
    # The interpreter's exit runs full garbage collections, whatever gc is set to, over every object left:
    # a long session's tables and stream records (moto's, in memory) are millions of them, and seconds of
    # a busy core. None of it is needed any more: frozen objects are left out of those collections.
    gc.freeze()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
