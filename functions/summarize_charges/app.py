"""Charges table stream -> per-customer charge summaries and sessions, exactly once.

Trigger: the DynamoDB stream of the charges table (NEW_IMAGE), through an event source mapping whose
filter passes only INSERTs of charge items; anything else that reaches the function is ignored.
Contract: docs/design.md "Exactly once". Each batch is grouped by customer and each customer's summary is
written once, with a conditional write that also records which charges it counted
(``beacon.logic.seen``: a window of recent charge ids in the summary item).

Failure semantics: a customer whose summary cannot be written has all its records reported in
``batchItemFailures`` (ReportBatchItemFailures); Lambda retries from the lowest of them, and the
records of other customers that come back with the retry are duplicates by then (their ids are in
their summaries' windows). Bisect, a bounded number of retries and the SQS on-failure destination (template.yaml)
make sure nothing is dropped silently; ``beacon summaries replay`` re-reads what landed there.

Why not Powertools' BatchProcessor: it calls a handler per record, while a summary must be written
once per customer per batch (one conditional write for all of that customer's records). So the batch is
read with Powertools' ``DynamoDBStreamEvent`` data class and the same partial response shape
(``PartialItemFailureResponse``) is built by ``beacon.services.summarize_batch.process_stream_records``.
"""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from beacon.observability import logger, metrics, tracer
from beacon.services.summarize_batch import process_stream_records


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
@event_source(data_class=DynamoDBStreamEvent)
def lambda_handler(event: DynamoDBStreamEvent, context: LambdaContext) -> PartialItemFailureResponse:
    outcome = process_stream_records(event.records, seconds_left=lambda: context.get_remaining_time_in_millis() / 1000)
    logger.info(
        "stream batch summarized",
        records=outcome.records,
        ignored=outcome.ignored,
        customers_updated=outcome.customers_updated,
        charges_applied=outcome.charges_applied,
        duplicates_skipped=outcome.duplicates_skipped,
        customers_failed=outcome.customers_failed,
        customers_recomputed=outcome.customers_recomputed,
        customers_handed_off=outcome.customers_handed_off,
        failed_records=len(outcome.failed),
    )
    metrics.add_metric(name="RecordsProcessed", unit=MetricUnit.Count, value=outcome.records)
    metrics.add_metric(name="CustomersUpdated", unit=MetricUnit.Count, value=outcome.customers_updated)
    metrics.add_metric(name="DuplicatesSkipped", unit=MetricUnit.Count, value=outcome.duplicates_skipped)
    metrics.add_metric(name="SummaryFailures", unit=MetricUnit.Count, value=len(outcome.failed))
    metrics.add_metric(name="SummariesRecomputed", unit=MetricUnit.Count, value=outcome.customers_recomputed)
    return outcome.response()
