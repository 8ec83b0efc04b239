"""The customer jobs queue: work the stream hands over to the jobs function (SQS, one message a job)."""

from typing import TYPE_CHECKING

from beacon.dal.aws import sqs_client, storage_errors
from beacon.models.jobs import CustomerJob

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class JobsQueue:
    """Sends jobs to the queue whose messages the jobs function receives."""

    def __init__(self, queue_url: str, client: "SQSClient | None" = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> "SQSClient":
        return self._client or sqs_client()

    def send(self, job: CustomerJob, *, delay_seconds: int = 0) -> None:
        """Queue one job, done ``delay_seconds`` from now at the earliest (a job may be queued twice: every
        job can be done again and change nothing more)."""
        with storage_errors("queue the job"):
            self.client.send_message(
                QueueUrl=self.queue_url,
                MessageBody=job.model_dump_json(exclude_defaults=True),
                DelaySeconds=delay_seconds,
            )
