"""GET /customers/summary?user_id=... (or ?email=...): a customer's charge summary and sessions.

Trigger: API Gateway HTTP API (payload v2). Contract: docs/api.md. Secret keys only, in the
Authorization header (a public key gets 403). Exactly one of ``user_id`` and ``email`` (trimmed and
lower-cased, as the write path stores it), else 400; 404 when the project has no summary for that
customer. Reads one item; writes nothing. The summary trails the accepted charges by the stream's
delay (usually a second or two).
"""

from beacon.api import Response, create_resolver, current_caller, query_parameters, secret_key, success
from beacon.models.parsing import parse_model
from beacon.models.queries import CustomerQuery
from beacon.observability import LambdaContext, MetricUnit, correlation_paths, log_invocation, metrics, record, tracer
from beacon.services.read_summary import read_summary

app = create_resolver()


@app.get("/customers/summary", middlewares=[secret_key])
@tracer.capture_method
def get_customer_summary() -> Response:
    query = parse_model(CustomerQuery, query_parameters(app, ("user_id", "email")))
    caller = current_caller(app)
    summary = read_summary(caller.project_id, user_id=query.user_id, email=query.email)
    record(by="user_id" if query.user_id else "email")
    metrics.add_metric(name="SummariesRead", unit=MetricUnit.Count, value=1)
    return success(summary)


@metrics.log_metrics(capture_cold_start_metric=True)
@log_invocation(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
