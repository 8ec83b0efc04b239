"""The Lambda event types the functions read (Powertools' event source data classes), for handlers to import.

A handler imports from ``beacon`` only, so that ``beacon`` is imported before any of Powertools' packages and
their ``__init__`` modules stay lazy (``beacon/__init__.py``): a function loads the one event class it reads.
"""

import functools
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source

if TYPE_CHECKING:
    # A type only: at run time, ``utilities.batch`` imports every batch processor, and its ``types`` module
    # imports Powertools' parser models whenever pydantic is loaded.
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

__all__ = ["DynamoDBStreamEvent", "PartialItemFailureResponse", "SQSRecord", "event_source", "sqs_batch"]


@functools.lru_cache(maxsize=1)
def sqs_batch() -> tuple[Any, Any]:
    """Powertools' SQS batch processor and ``process_partial_response``, imported by the one function that
    reads a queue (the batch utility imports every processor it has)."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    return BatchProcessor(event_type=EventType.SQS), process_partial_response
