"""POST /charges: record one charge.

Trigger: API Gateway HTTP API (payload v2). Contract: docs/api.md and openapi.yaml. The key may be
public or secret. On 200 the charge is stored once in the charges table (at most once per
Idempotency-Key); on any 4xx nothing is written; a 503 means storage was busy and the request can
be retried (with the same Idempotency-Key, it will not be stored twice).

This function also serves the API's ``$default`` route, answering unknown routes with 404 or 405.
"""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from beacon.api import any_key, create_resolver, current_caller, idempotency_key, parse_body, success
from beacon.models.requests import CreateChargeRequest
from beacon.observability import logger, metrics, tracer
from beacon.services.record_charges import record_charges

app = create_resolver()


@app.post("/charges", middlewares=[any_key])
@tracer.capture_method
def create_charge() -> Response:
    charge = parse_body(app, CreateChargeRequest)
    caller = current_caller(app)
    result = record_charges(
        caller,
        endpoint="charges",
        user_id=charge.user_id,
        email=charge.email,
        charges=[charge],
        idempotency_key=idempotency_key(app),
        lambda_context=app.lambda_context,
    )
    logger.info(
        "charge recorded",
        project_id=caller.project_id,
        key_id=caller.key_id,
        stored=result.stored,
        replayed=result.replayed,
    )
    metrics.add_metric(name="ChargesAccepted", unit=MetricUnit.Count, value=result.stored)
    return success(headers={"Idempotent-Replayed": "true"} if result.replayed else None)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
