"""The one reset of everything the layer caches per execution environment (a new "cold start" in this process).

Settings, the boto3 client, the idempotency store and the API key cache are built once per execution
environment; the tests, the benchmarks and the local stack change the environment in process and call
``reset_caches()`` so that the next invocation reads it again. The local stack, whose functions run
side by side in threads of one process (``local.lambdas``), then calls ``build_caches()`` so that no two threads race to
build one of them (a boto3 client made from the default session is not safe to create in two threads).
"""

import os


def reset_caches() -> None:
    """Forget clients, settings, the idempotency store, cached keys and unflushed metrics."""
    # Imported here, not at the top: Powertools' logger and metrics read the environment when the
    # layer is first imported, which must come after the caller has set the functions' environment.
    from beacon.dal import aws
    from beacon.observability import metrics
    from beacon.services import authenticate, record_charges
    from beacon.settings import get_settings

    get_settings.cache_clear()
    aws.dynamodb_client.cache_clear()
    aws.sqs_client.cache_clear()
    aws.kms_client.cache_clear()
    record_charges.idempotent_store.cache_clear()
    authenticate.key_cache.clear()
    # With POWERTOOLS_METRICS_DISABLED, Powertools never flushes (so never clears) the metric set; at 100
    # values of one metric it serializes them itself, which fails without the namespace read at import.
    metrics.clear_metrics()
    # The namespace and service are read from the environment when the layer is first imported, as at a cold start;
    # read it again, in case this process imported the layer before setting the functions' environment.
    metrics.namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE")
    metrics.service = os.environ.get("POWERTOOLS_SERVICE_NAME")


def build_caches() -> None:
    """Build, in this thread, the settings, the client and the idempotency store that the layer builds on first use."""
    from beacon.dal import aws
    from beacon.services import record_charges
    from beacon.settings import get_settings

    get_settings()
    aws.dynamodb_client()
    record_charges.idempotent_store()
