"""``python -m ops.importer FILE ...``: the import command on its own (``bin/beacon import`` runs it)."""

import sys

from ops.importer.command import main

sys.exit(main())
