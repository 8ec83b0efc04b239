"""``beacon import``: send a file of past charges to the API, with progress, resume and a rejects file.

``rows`` reads a CSV or JSON-lines file and validates each row with the API's own request model;
``chunks`` groups the valid rows by customer into bulk requests, each with an ``Idempotency-Key``
derived from the file's content and the chunk; ``sending`` posts them with retries; ``progress``
shows how far it got; ``command`` ties them together and writes the rejects file and the report.
"""
