"""`python -m workbench.trainer RUN_DIR [--resume]`: one run's training process."""

import sys

from .main import main

sys.exit(main())
