"""The demo tools' command-line entry: BLAS threads (and other process settings) fixed before torch loads, then
``main``."""

from __future__ import annotations

import os
import sys
from typing import Dict, Optional


def run(module: str, main, env_defaults: Optional[Dict[str, str]] = None) -> None:
    """Re-executes ``python3 -m module`` once, with OPENBLAS/OMP threads defaulting to the command's ``--threads``
    (default 1; OpenBLAS reads them once, when it loads) and ``env_defaults`` for the variables still unset, then
    exits with ``main()``'s status."""
    extra = dict(env_defaults or {})
    if any(k not in os.environ for k in ["OPENBLAS_NUM_THREADS", *extra]):
        threads = "1"
        for i, arg in enumerate(sys.argv):
            if arg == "--threads" and i + 1 < len(sys.argv):
                threads = sys.argv[i + 1]
            elif arg.startswith("--threads="):
                threads = arg.split("=", 1)[1]
        env = dict(os.environ)
        for k, v in {"OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads, **extra}.items():
            env.setdefault(k, v)
        os.execve(sys.executable, [sys.executable, "-m", module] + sys.argv[1:], env)
    sys.exit(main())
