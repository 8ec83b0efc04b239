"""Use cases, one module per entry point, each named by its verb."""
