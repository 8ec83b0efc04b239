"""Work on one customer that needs more time than a request or a stream batch has (queue messages)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict


class CustomerJob(BaseModel):
    """One job: ``recompute`` a customer's summary from its stored charges, or ``erase`` the customer.

    An ``erase`` job deletes every item of the customer written before ``erased_before`` (UNIX ms, when
    the API received the erasure); ``final`` is the last pass, made once every charge received before
    the erasure has certainly been written (the first pass is made at once).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["recompute", "erase"]
    project_id: str
    customer_id: str
    erased_before: int | None = None
    final: bool = False
