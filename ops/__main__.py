"""Entry point of ``python -m ops``."""

import sys

from ops.main import main

sys.exit(main())
