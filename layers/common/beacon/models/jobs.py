"""Work on one customer that the stream hands to the jobs function, where it has time (queue messages)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict


class CustomerJob(BaseModel):
    """One job: ``recompute`` a customer's summary from its stored charges."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["recompute"]
    project_id: str
    customer_id: str
