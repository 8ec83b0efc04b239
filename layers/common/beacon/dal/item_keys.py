"""Every DynamoDB key format of the project (item keys, not API keys), in one place. Keys are namespaced by project.

docs/design.md, "Keys", explains the layout: every partition key of the summaries table carries one
customer's writes, so that no limit of DynamoDB's per partition binds a project before its quotas do.
"""

import hashlib

CHARGE_ITEM_TYPE = "charge"
SUMMARY_ITEM_TYPE = "summary"
SEEN_ITEM_TYPE = "seen"
REGISTRY_ITEM_TYPE = "customer"
ERASURE_ITEM_TYPE = "erasure"

SUMMARY_SK = "SUMMARY"
# A project's customers are listed under this many partition keys, each written once per new customer.
REGISTRY_SHARDS = 16


def charge_pk(project_id: str, customer: str) -> str:
    """Partition key of a customer's charges: all of one customer's charges share it."""
    return f"P#{project_id}#C#{customer}"


def charge_sk(charge_id: str) -> str:
    """Sort key of one charge."""
    return f"CHARGE#{charge_id}"


def summary_pk(project_id: str, customer: str) -> str:
    """Partition key of a customer's summary: one customer's, so its writes never share a partition key."""
    return f"P#{project_id}#C#{customer}"


def legacy_summary_pk(project_id: str) -> str:
    """Partition key of a project's summaries in the first layout (one for the whole project)."""
    return f"P#{project_id}"


def legacy_summary_sk(customer: str) -> str:
    """Sort key of one customer's summary in the first layout."""
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


def registry_shard(customer: str) -> int:
    """The registry partition a customer is listed under (a hash of its identity, stable)."""
    return int.from_bytes(hashlib.sha256(customer.encode("utf-8")).digest()[:4], "big") % REGISTRY_SHARDS


def registry_pk(project_id: str, shard: int) -> str:
    """Partition key of one shard of a project's customer registry."""
    return f"P#{project_id}#CUSTOMERS#{shard:02d}"


def registry_sk(customer: str) -> str:
    """Sort key of a customer's registry entry."""
    return f"C#{customer}"


def erasures_pk(project_id: str) -> str:
    """Partition key of a project's erasure records (a keyed hash of each erased identity: no identity)."""
    return f"P#{project_id}#ERASURES"


def api_key_pk(key_hash: str) -> str:
    """Partition key of an API key, looked up by the SHA-256 of the key."""
    return f"KEY#{key_hash}"
