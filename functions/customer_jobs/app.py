"""CustomerJobsQueue (SQS) -> work on one customer that needs more time than a stream batch has.

Trigger: the SQS queue the stream function hands such work to (``summarize_batch.hand_off``), and an
erasure's (``erase_customer``), one message a job. Contract: docs/design.md, "Recompute" and
"Erasure". A ``recompute`` job replaces a customer's summary with what its stored charges give, under
the version check every summary write makes, so that a job done twice, or racing the stream, still
counts every charge once. An ``erase`` job deletes every item of an erased customer from before the
erasure, and queues its final pass.

Failure semantics: Powertools' batch processor reports a failed job (``ReportBatchItemFailures``);
SQS makes it visible again after the queue's visibility timeout, and after a few receives moves it
to the dead-letter queue (template.yaml), which raises an alarm.
"""

from typing import TYPE_CHECKING

from beacon.events import sqs_batch
from beacon.models.jobs import CustomerJob
from beacon.observability import LambdaContext, MetricUnit, log_invocation, metrics, tracer
from beacon.observability import record as record_fields
from beacon.services.erase_customer import run_erase_job
from beacon.services.summarize_batch import run_job

if TYPE_CHECKING:
    from beacon.events import PartialItemFailureResponse, SQSRecord


@tracer.capture_method
def do_job(record: "SQSRecord", lambda_context: LambdaContext) -> None:
    job = CustomerJob.model_validate_json(record.body)

    def seconds_left() -> float:
        return lambda_context.get_remaining_time_in_millis() / 1000

    if job.kind == "erase":
        erased = run_erase_job(job, seconds_left=seconds_left)
        record_fields(charges_erased=erased.charges, items_erased=erased.other_items, final=erased.final)
        metrics.add_metric(name="ChargesErased", unit=MetricUnit.Count, value=erased.charges)
    else:
        run_job(job, seconds_left=seconds_left)
    record_fields(kind=job.kind, project_id=job.project_id)
    metrics.add_metric(name="CustomerJobsDone", unit=MetricUnit.Count, value=1)


@metrics.log_metrics(capture_cold_start_metric=True)
@log_invocation()
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> "PartialItemFailureResponse":
    processor, process_partial_response = sqs_batch()  # built on the first job, not at init
    return process_partial_response(event=event, record_handler=do_job, processor=processor, context=context)
