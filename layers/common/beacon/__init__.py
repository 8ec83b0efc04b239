"""Shared code of the Beacon charges API: models, domain logic and data access."""
