"""Reading a customer's summary, as ``GET /customers/summary`` shows it (an erased customer is unknown)."""

from beacon.dal.summaries import SummariesRepository
from beacon.errors import NotFoundError
from beacon.logic.identity import identify_customer
from beacon.models.responses import SummaryView
from beacon.settings import get_settings


def read_summary(project_id: str, *, user_id: str | None, email: str | None) -> SummaryView:
    """A customer's summary as the read endpoint shows it; ``NotFoundError`` for an unknown customer."""
    settings = get_settings()
    summaries = SummariesRepository(settings.summaries_table_name, settings.charges_table_name)
    customer = identify_customer(user_id, email)
    # Strongly consistent: a customer erased a moment ago reads as unknown at once. A summary not yet
    # moved from the first layout (``beacon summaries migrate``) is read there.
    stored = summaries.get(project_id, customer) or summaries.get_legacy(project_id, customer)
    if stored is None or stored.is_erased:
        name = "user_id" if user_id is not None else "email"
        raise NotFoundError(f"no customer with this {name} in the project has a summarized charge", field=name)
    return SummaryView.of(stored.summary)
