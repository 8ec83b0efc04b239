"""Entry point of ``python -m beacon.cli``."""

import sys

from beacon.cli.main import main

sys.exit(main())
