"""Entry script of the one-file customer program (Linux here, Windows in packaging/windows).

PyInstaller starts here; everything else is ``zvkdiag.quicksupport``.
"""

import multiprocessing
import sys

from zvkdiag.quicksupport.main import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
