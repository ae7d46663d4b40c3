"""``python -m pseudolink_room airlock request ...``: what the room's ``pseudolink`` runs."""

import sys

from .client import main

sys.exit(main())
