"""Operator commands: ``python -m ops <group> <command>`` (``bin/beacon`` runs it from a checkout).

A checkout's tool, not part of the Lambda layer: it imports the layer's ``beacon`` package, never the reverse.

They use the same environment variables as the functions (``*_TABLE_NAME``, AWS credentials and
region, ``AWS_ENDPOINT_URL`` for the local stack); ``bin/beacon --stack NAME`` reads the table names
from a deployed stack's outputs instead.
"""
