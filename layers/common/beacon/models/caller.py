"""Who is calling: what an authenticated request carries from the API layer to the use cases."""

from dataclasses import dataclass
from typing import Literal

from beacon.models.records import KeyKind

KeySource = Literal["header", "query", "body"]


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's project and kind, and where in the request the key was found."""

    project_id: str
    kind: KeyKind
    key_id: str
    source: KeySource
