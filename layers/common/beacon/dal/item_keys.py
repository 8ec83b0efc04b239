"""Every DynamoDB key format of the project (item keys, not API keys), in one place. Keys are namespaced by project."""

CHARGE_ITEM_TYPE = "charge"
SUMMARY_ITEM_TYPE = "summary"
SEEN_ITEM_TYPE = "seen"


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


def seen_pk(project_id: str, customer: str) -> str:
    """Partition key of a customer's seen items: the charge ids its summary counts beyond what it holds itself."""
    return f"P#{project_id}#C#{customer}#SEEN"


def seen_sk(bucket: int, version: int, part: int) -> str:
    """Sort key of one seen item: its window bucket first, so that a bucket's items are one key range."""
    return f"{bucket:010d}#{version:012d}#{part:04d}"


def seen_bucket_range(first: int, last: int) -> tuple[str, str]:
    """The sort keys between which every seen item of buckets ``first`` to ``last`` lies."""
    return f"{first:010d}#", f"{last:010d}#~"


def api_key_pk(key_hash: str) -> str:
    """Partition key of an API key, looked up by the SHA-256 of the key."""
    return f"KEY#{key_hash}"
