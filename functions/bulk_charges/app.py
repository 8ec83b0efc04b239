"""POST /charges/bulk: record 1 to 1,000 charges of one customer.

Trigger: API Gateway HTTP API (payload v2). Contract: docs/api.md and openapi.yaml. Every charge is
validated before anything is written; errors name ``charges[i].field``. Charges are written with
BatchWriteItem (25 a call, unprocessed items retried with backoff). The request ends with all of
them stored (200) or with an error that is safe to retry: with the same Idempotency-Key, a retry
stores only the charges a failed attempt did not.
"""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from beacon.api import any_key, create_resolver, current_caller, idempotency_key, parse_body, success
from beacon.models.requests import BulkChargesRequest
from beacon.observability import logger, metrics, tracer
from beacon.services.record_charges import record_charges

app = create_resolver()


@app.post("/charges/bulk", middlewares=[any_key])
@tracer.capture_method
def create_charges_in_bulk() -> Response:
    bulk = parse_body(app, BulkChargesRequest)
    caller = current_caller(app)
    result = record_charges(
        caller,
        endpoint="charges/bulk",
        user_id=bulk.user_id,
        email=bulk.email,
        charges=bulk.charges,
        idempotency_key=idempotency_key(app),
        lambda_context=app.lambda_context,
    )
    logger.info(
        "charges recorded",
        project_id=caller.project_id,
        key_id=caller.key_id,
        charges=result.accepted,
        stored=result.stored,
        replayed=result.replayed,
    )
    metrics.add_metric(name="ChargesAccepted", unit=MetricUnit.Count, value=result.stored)
    metrics.add_metric(name="BulkSize", unit=MetricUnit.Count, value=result.accepted)
    return success(headers={"Idempotent-Replayed": "true"} if result.replayed else None)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
