"""``python -m hta ...``: the same as the ``hta`` command."""

import sys

from hta.app.cli import main

sys.exit(main())
