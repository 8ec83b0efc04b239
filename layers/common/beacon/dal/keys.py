"""Every DynamoDB key format of the project, in one place. Keys are namespaced by project."""

CHARGE_ITEM_TYPE = "charge"


def customer_id(user_id: str | None, email: str | None) -> str:
    """A customer's identity within a project: its user_id if it has one, else its e-mail address.

    The two are prefixed so that a user_id that looks like an address never meets an e-mail identity.
    """
    if user_id is not None:
        return f"u#{user_id}"
    if email is not None:
        return f"e#{email}"
    raise ValueError("a customer needs a user_id or an email")


def charge_pk(project_id: str, customer: str) -> str:
    """Partition key of a customer's charges: all of one customer's charges share it."""
    return f"P#{project_id}#C#{customer}"


def charge_sk(charge_id: str) -> str:
    """Sort key of one charge."""
    return f"CHARGE#{charge_id}"


def summary_pk(project_id: str) -> str:
    """Partition key of a project's summaries (one item per customer)."""
    return f"P#{project_id}"


def summary_sk(customer: str) -> str:
    """Sort key of one customer's summary."""
    return f"C#{customer}"


def api_key_pk(key_hash: str) -> str:
    """Partition key of an API key, looked up by the SHA-256 of the key."""
    return f"KEY#{key_hash}"
