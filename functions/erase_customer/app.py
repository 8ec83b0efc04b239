"""DELETE /customers?user_id=... (or ?email=...): erase a customer.

Trigger: API Gateway HTTP API (payload v2). Contract: docs/api.md, "Erasing a customer". Secret keys
only, in the Authorization header (a public key gets 403), and exactly one of ``user_id`` and
``email``, as for the summary. 202 once the erasure is recorded: from then on the customer reads as
unknown (404), and within minutes every item of theirs is gone (``services.erase_customer``). Erasing
a customer that does not exist, or again, is 202 as well. A 503 can be retried: the erasure is the same.
"""

from beacon.api import Response, create_resolver, current_caller, query_parameters, received_ms, secret_key, success
from beacon.models.parsing import parse_model
from beacon.models.queries import CustomerQuery
from beacon.observability import LambdaContext, MetricUnit, correlation_paths, log_invocation, metrics, record, tracer
from beacon.services.erase_customer import erase_customer

app = create_resolver()


@app.delete("/customers", middlewares=[secret_key])
@tracer.capture_method
def erase() -> Response:
    query = parse_model(CustomerQuery, query_parameters(app, ("user_id", "email"), only=True))
    caller = current_caller(app)
    erase_customer(
        caller.project_id,
        user_id=query.user_id,
        email=query.email,
        erased_before=received_ms(app),
        key_id=caller.key_id,
    )
    record(by="user_id" if query.user_id else "email")
    metrics.add_metric(name="CustomersErased", unit=MetricUnit.Count, value=1)
    return success(status=202)


@metrics.log_metrics(capture_cold_start_metric=True)
@log_invocation(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
