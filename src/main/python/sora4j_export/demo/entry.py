"""The demo tools' command-line entry: BLAS threads fixed before torch loads, then ``main``."""

from __future__ import annotations

import os
import sys


def run(module: str, main) -> None:
    """Re-executes ``python3 -m module`` with OPENBLAS/OMP threads set to the command's ``--threads`` (default 1)
    when they are unset (OpenBLAS reads them once, when it loads), then exits with ``main()``'s status."""
    if "OPENBLAS_NUM_THREADS" not in os.environ:
        threads = "1"
        for i, arg in enumerate(sys.argv):
            if arg == "--threads" and i + 1 < len(sys.argv):
                threads = sys.argv[i + 1]
            elif arg.startswith("--threads="):
                threads = arg.split("=", 1)[1]
        env = dict(os.environ, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads)
        os.execve(sys.executable, [sys.executable, "-m", module] + sys.argv[1:], env)
    sys.exit(main())
