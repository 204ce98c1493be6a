"""``python -m zvkdiag.quicksupport``: the same program as the one-file build."""

import sys

from zvkdiag.quicksupport.main import main

sys.exit(main())
