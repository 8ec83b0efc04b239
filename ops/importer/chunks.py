"""Valid rows grouped by customer into bulk requests, each with a deterministic ``Idempotency-Key``.

A bulk request names one customer (``user_id`` and ``email`` at its top level), so rows are grouped
by that pair, in the order customers first appear, and each group is cut into chunks of at most
1,000 charges whose body stays under the API's 1 MiB limit. A chunk's key is derived from the
SHA-256 of the whole file, the customer and the chunk's index within the customer: the same file
gives the same chunks under the same keys on every run, so a re-run resends them all and the API
replays those it already stored instead of storing them twice. Running the same file with other
options (``--update-session``) sends other bodies under the same keys, which the API refuses (422)
rather than count those charges again.
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from beacon.models.requests import MAX_BULK_CHARGES
from ops.importer.rows import Charge

MAX_BODY_BYTES = 1_048_576  # the API answers 413 above this


@dataclass(frozen=True, slots=True)
class Chunk:
    """One bulk request: a customer, up to 1,000 of its charges, and the key that makes it safe to resend."""

    key: str
    user_id: str | None
    email: str | None
    charges: tuple[Charge, ...]

    def body(self) -> bytes:
        """The request body: the same bytes on every run."""
        return _encode({**_identity(self.user_id, self.email), "charges": [c.bulk_item() for c in self.charges]})


def file_digest(data: bytes) -> str:
    """SHA-256 of the file's bytes, in hex."""
    return hashlib.sha256(data).hexdigest()


def chunk_key(digest: str, user_id: str | None, email: str | None, index: int) -> str:
    """``import-<file>-<chunk>``: 52 printable ASCII characters, the same for the same file and chunk."""
    seed = json.dumps([digest, user_id, email, index], ensure_ascii=False).encode("utf-8")
    return f"import-{digest[:12]}-{hashlib.sha256(seed).hexdigest()[:32]}"


def make_chunks(
    charges: Sequence[Charge],
    digest: str,
    *,
    max_charges: int = MAX_BULK_CHARGES,
    max_bytes: int = MAX_BODY_BYTES,
) -> list[Chunk]:
    """Group ``charges`` by customer, in file order, into chunks of at most ``max_charges`` under ``max_bytes``."""
    groups: dict[tuple[str | None, str | None], list[Charge]] = {}
    for charge in charges:
        groups.setdefault((charge.user_id, charge.email), []).append(charge)
    chunks: list[Chunk] = []
    for (user_id, email), members in groups.items():
        overhead = len(_encode({**_identity(user_id, email), "charges": []}))
        current: list[Charge] = []
        size, index = overhead, 0
        for charge in members:
            extra = len(_encode(charge.bulk_item())) + (1 if current else 0)  # the comma before it
            if current and (len(current) >= max_charges or size + extra >= max_bytes):
                chunks.append(_chunk(digest, user_id, email, index, current))
                current, size, index = [], overhead, index + 1
                extra -= 1
            current.append(charge)
            size += extra
        chunks.append(_chunk(digest, user_id, email, index, current))
    return chunks


def _chunk(digest: str, user_id: str | None, email: str | None, index: int, charges: list[Charge]) -> Chunk:
    return Chunk(chunk_key(digest, user_id, email, index), user_id, email, tuple(charges))


def _identity(user_id: str | None, email: str | None) -> dict[str, str]:
    identity = {}
    if user_id is not None:
        identity["user_id"] = user_id
    if email is not None:
        identity["email"] = email
    return identity


def _encode(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
