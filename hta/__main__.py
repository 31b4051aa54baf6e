"""``python -m hta ...``: the same as the ``hta`` command."""

import sys

from hta.app.cli import main

if __name__ == "__main__":  # importing the module (e.g. walking every module of hta) runs nothing
    sys.exit(main())
