"""The one reset of everything the layer caches per execution environment (a new "cold start" in this process).

Settings, the boto3 clients, the idempotency store, the API key cache and the few things built once on
first use are kept for the life of an execution environment; so are the operator commands' clients
(``ops`` runs in the same process in the tests). The tests, the benchmarks and the local stack change
the environment in process and call ``reset_caches()`` so that the next invocation reads it again.
``tests/tooling/test_local_caches.py`` finds every cache in the code and fails until this list knows it.
The local stack, whose functions run side by side in threads of one process (``local.lambdas``), then
calls ``build_caches()`` so that no two threads race to build one of them (a boto3 client made from
the default session is not safe to create in two threads).
"""

import os
import sys
from typing import Any

# (module, name): a functools cache (``cache_clear()``) or an object with ``clear()``. A module not imported yet
# has cached nothing: the reset imports nothing (Powertools' logger and metrics read the environment when the
# layer is first imported, which must come after the caller has set the functions' environment).
CACHES = (
    ("beacon.settings", "get_settings"),
    ("beacon.dal.aws", "dynamodb_client"),
    ("beacon.dal.aws", "sqs_client"),
    ("beacon.dal.aws", "kms_client"),
    ("beacon.events", "sqs_batch"),
    ("beacon.models.fields", "_sent_at_adapter"),
    ("beacon.services.authenticate", "key_cache"),
    ("beacon.services.record_charges", "idempotent_store"),
    ("ops.stream_failures", "streams_client"),
    ("ops.stream_failures", "sqs_client"),
)


def reset_caches() -> None:
    """Forget clients, settings, the idempotency store, cached keys and unflushed metrics."""
    for module_name, name in CACHES:
        module = sys.modules.get(module_name)
        if module is not None:
            _clear(getattr(module, name))
    metrics = getattr(sys.modules.get("beacon.observability"), "metrics", None)
    if metrics is not None:
        # With POWERTOOLS_METRICS_DISABLED, Powertools never flushes (so never clears) the metric set; at 100
        # values of one metric it serializes them itself, which fails without the namespace read at import.
        metrics.clear_metrics()
        # The namespace and service are read from the environment when the layer is first imported, as at a cold
        # start; read again, in case this process imported the layer before setting the functions' environment.
        metrics.namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE")
        metrics.service = os.environ.get("POWERTOOLS_SERVICE_NAME")


def _clear(cache: Any) -> None:
    clear = getattr(cache, "cache_clear", None) or getattr(cache, "clear", None)
    if clear is not None:  # else a test's stand-in (``monkeypatch.setattr``), which caches nothing
        clear()


def build_caches() -> None:
    """Build, in this thread, the settings, the client and the idempotency store that the layer builds on first use."""
    from beacon.dal import aws
    from beacon.services import record_charges
    from beacon.settings import get_settings

    get_settings()
    aws.dynamodb_client()
    record_charges.idempotent_store()
