"""The local stack's resources are the template's: its queues keep their retention, visibility and redrive."""

import json
from collections.abc import Iterator

import pytest

from local import aws, sam
from local.template import template

ENDPOINT = "http://127.0.0.1:9"  # answered in process, from moto's backends


@pytest.fixture
def resources(tables) -> Iterator[sam.LocalResources]:
    calls = aws.InProcessCalls(ENDPOINT)
    calls.install()
    document = template()
    created = sam.LocalResources(
        region="us-east-1",
        stack_name="beacon-local",
        parameters=sam.parameter_values({}, document),
        conditions=document.get("Conditions", {}),
    )
    aws.create_resources(ENDPOINT, created)
    yield created
    calls.uninstall()


def test_a_queue_with_a_redrive_policy_sends_its_failed_messages_to_the_templates_dead_letter_queue(resources):
    queues = aws.sqs(ENDPOINT, "us-east-1")
    jobs = queues.get_queue_attributes(QueueUrl=resources.queue_urls["CustomerJobsQueue"], AttributeNames=["All"])

    attributes = jobs["Attributes"]
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": resources.queue_arn("CustomerJobsDeadLetterQueue"),
        "maxReceiveCount": 3,
    }
    assert (attributes["VisibilityTimeout"], attributes["MessageRetentionPeriod"]) == ("5400", "1209600")
