"""`python -m scaler` → the `scaler` command."""

import sys

from scaler.cli import main

sys.exit(main())
