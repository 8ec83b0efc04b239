"""The keyed hash of an erased customer's identity: HMAC-SHA-256 by a KMS key that never leaves KMS.

An erasure record keeps this hash instead of the identity: whoever may use the key (an auditor with
``kms:GenerateMac``) can show that a given identity was erased, and nobody can read the identities
out of the records, nor test guesses against them without the key (every use is in CloudTrail).
"""

from typing import TYPE_CHECKING

from beacon.dal.aws import kms_client, storage_errors

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient


class IdentityHasher:
    """Hashes ``(project, customer)`` with the template's HMAC key."""

    def __init__(self, key_id: str, client: "KMSClient | None" = None) -> None:
        self.key_id = key_id
        self._client = client

    @property
    def client(self) -> "KMSClient":
        return self._client or kms_client()

    def hash(self, project_id: str, customer: str) -> str:
        """The hex HMAC of the customer's identity within its project."""
        message = f"{project_id}\x1f{customer}".encode()
        with storage_errors("hash the erased identity"):
            answer = self.client.generate_mac(KeyId=self.key_id, Message=message, MacAlgorithm="HMAC_SHA_256")
        return answer["Mac"].hex()
