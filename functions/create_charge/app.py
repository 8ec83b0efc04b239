"""POST /charges: record one charge.

Trigger: API Gateway HTTP API (payload v2). Contract: docs/api.md and openapi.yaml. The key may be
public or secret. On 200 the charge is stored once in the charges table (at most once per
Idempotency-Key); on any 4xx nothing is written; a 503 means storage was busy and the request can
be retried (with the same Idempotency-Key, it will not be stored twice).

This function also serves the API's ``$default`` route, answering unknown routes with 404 or 405.
"""

from beacon.api import (
    Response,
    any_key,
    create_resolver,
    current_caller,
    idempotency_key,
    parse_body,
    received_ms,
    success,
)
from beacon.models.requests import CreateChargeRequest
from beacon.observability import LambdaContext, MetricUnit, correlation_paths, log_invocation, metrics, record, tracer
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
        received_ms=received_ms(app),
        sent_at=charge.sent_at,
    )
    record(charges=result.accepted, replayed=result.replayed or None)
    metrics.add_metric(name="ChargesAccepted", unit=MetricUnit.Count, value=result.stored)
    return success(headers={"Idempotent-Replayed": "true"} if result.replayed else None)


@metrics.log_metrics(capture_cold_start_metric=True)
@log_invocation(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
