"""``python -m stsdesk``: the command line (see stsdesk.cli)."""

import sys

from stsdesk.cli import main

if __name__ == "__main__":
    sys.exit(main())
