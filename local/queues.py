"""A local SQS event source mapping: receives a queue's messages and invokes its function as Lambda would.

Messages are received in batches of up to ``BatchSize`` and handed to the function in Lambda's SQS
event format. A message the function reports as failed (``ReportBatchItemFailures``), or every
message of a batch whose invocation raised, is left in the queue: it comes back after the queue's
visibility timeout, and SQS itself moves it to the dead-letter queue after ``maxReceiveCount``
receives (moto applies the queue's ``RedrivePolicy`` as SQS does). The others are deleted.
"""

import hashlib
import sys
import traceback
from collections.abc import Callable
from threading import Event
from typing import TYPE_CHECKING, Any

from local.sam import QueueMapping

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# Short polls: moto answers a long poll by sleeping in the call, which would hold the embedded AWS's
# one-call-at-a-time lock (local.aws) for that long.
POLL_INTERVAL_SECONDS = 0.5

Invoke = Callable[[str, dict[str, Any]], Any]


class QueuePoller:
    """Delivers one queue's messages to its function until stopped."""

    def __init__(self, mapping: QueueMapping, queue_url: str, queue_arn: str, sqs: "SQSClient", invoke: Invoke) -> None:
        self.mapping, self.queue_url, self.queue_arn = mapping, queue_url, queue_arn
        self.sqs, self.invoke = sqs, invoke

    def poll(self) -> int:
        """Receive one batch and deliver it; the number of messages received."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(10, self.mapping.batch_size),
            WaitTimeSeconds=0,
            AttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [self._record(dict(message)) for message in messages]}
        try:
            answer = self.invoke(self.mapping.function, event)
        except Exception:
            print(
                f"queue -> {self.mapping.function}: the invocation failed; its messages will come back:",
                file=sys.stderr,
            )
            traceback.print_exc()
            return len(messages)
        failed = set()
        if self.mapping.report_batch_item_failures and isinstance(answer, dict):
            failed = {item["itemIdentifier"] for item in answer.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(message["Body"].encode(), usedforsecurity=False).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.queue_arn.split(":")[3],
        }

    def run(self, stop: Event) -> None:
        """Poll until ``stop`` is set; errors of the poller itself are printed and polling goes on."""
        while not stop.is_set():
            try:
                received = self.poll()
            except Exception:
                if stop.is_set():
                    return
                print(f"queue poller of {self.mapping.function} failed; retrying in 1 s:", file=sys.stderr)
                traceback.print_exc()
                stop.wait(1.0)
                continue
            if not received:
                stop.wait(POLL_INTERVAL_SECONDS)
