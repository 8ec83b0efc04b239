"""Local tooling: reads template.yaml and runs the stack on one machine without Docker (never deployed)."""
