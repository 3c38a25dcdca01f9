"""``python -m flashtrain.cli``: the same as ``flash-train``."""

import sys

from flashtrain.cli.main import main

sys.exit(main())
