"""Logger, tracer and metrics shared by every function.

Configured by the POWERTOOLS_* environment variables that template.yaml sets in Globals
(service name, metrics namespace, log level). Importing this module creates no AWS client.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
