"""Charges table stream -> per-customer charge summaries and sessions, exactly once.

Trigger: the DynamoDB stream of the charges table (NEW_IMAGE), through an event source mapping whose
filter passes only INSERTs of charge items; anything else that reaches the function is ignored.
Contract: docs/design.md "Exactly once". Each batch is grouped by customer and each customer's summary is
written with one conditional write that also records which charges it counted (``beacon.logic.seen``: a
window of recent charge ids in the summary item); more writes only when one cannot hold the customer's
records, when a write is refused, or when the customer is recomputed (docs/design.md, "Recompute").

Failure semantics: a customer whose summary cannot be written has all its records reported in
``batchItemFailures`` (ReportBatchItemFailures); Lambda retries from the lowest of them, and the
records of other customers that come back with the retry are duplicates by then (their ids are in
their summaries' windows). Bisect, a bounded number of retries and the SQS on-failure destination (template.yaml)
make sure nothing is dropped silently; ``beacon summaries replay`` re-reads what landed there.

Why not Powertools' BatchProcessor: it calls a handler per record, while a customer's records must go
into its summary together (one conditional write for all of them, as far as one write holds them). So the
batch is read with Powertools' ``DynamoDBStreamEvent`` data class and the same partial response shape
(``PartialItemFailureResponse``) is built by ``beacon.services.summarize_batch.process_stream_records``.
"""

import time
from typing import TYPE_CHECKING

from beacon.events import DynamoDBStreamEvent, event_source
from beacon.observability import LambdaContext, MetricUnit, log_invocation, metrics, record, tracer
from beacon.services.summarize_batch import process_stream_records

if TYPE_CHECKING:
    from beacon.events import PartialItemFailureResponse


@metrics.log_metrics(capture_cold_start_metric=True)
@log_invocation()
@tracer.capture_lambda_handler
@event_source(data_class=DynamoDBStreamEvent)
def lambda_handler(event: DynamoDBStreamEvent, context: LambdaContext) -> "PartialItemFailureResponse":
    outcome = process_stream_records(event.records, seconds_left=lambda: context.get_remaining_time_in_millis() / 1000)
    record(
        ignored=outcome.ignored,
        charges_applied=outcome.charges_applied,
        customers_failed=outcome.customers_failed,
    )
    metrics.add_metric(name="RecordsProcessed", unit=MetricUnit.Count, value=outcome.records)
    metrics.add_metric(name="CustomersUpdated", unit=MetricUnit.Count, value=outcome.customers_updated)
    metrics.add_metric(name="DuplicatesSkipped", unit=MetricUnit.Count, value=outcome.duplicates_skipped)
    metrics.add_metric(name="SummaryFailures", unit=MetricUnit.Count, value=len(outcome.failed))
    metrics.add_metric(name="SummariesRecomputed", unit=MetricUnit.Count, value=outcome.customers_recomputed)
    metrics.add_metric(name="RecomputesHandedOff", unit=MetricUnit.Count, value=outcome.customers_handed_off)
    # Summary lag: how long the batch's oldest charge waited for its summary (stored -> summary written).
    created = [r.dynamodb.approximate_creation_date_time for r in event.records if r.dynamodb]
    if oldest := min(filter(None, created), default=None):
        metrics.add_metric(name="SummaryLag", unit=MetricUnit.Seconds, value=max(0.0, time.time() - oldest))
    return outcome.response()
