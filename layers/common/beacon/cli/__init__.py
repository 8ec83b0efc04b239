"""Operator commands: ``python -m beacon.cli <group> <command>`` (``bin/beacon`` runs it from a checkout).

They use the same environment variables as the functions (``*_TABLE_NAME``, AWS credentials and
region, ``AWS_ENDPOINT_URL`` for the local stack); ``bin/beacon --stack NAME`` reads the table names
from a deployed stack's outputs instead.
"""
