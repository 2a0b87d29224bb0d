"""``python3 -m asgisim``."""

import sys

from .cli import main

sys.exit(main())
