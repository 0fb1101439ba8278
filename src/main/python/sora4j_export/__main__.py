"""``python3 -m sora4j_export …`` (see cli.py).

TorchScript's generated code depends on Python's string hash seed (see pack.py), so when PYTHONHASHSEED is unset the
command re-executes itself with PYTHONHASHSEED=0: the same inputs then give byte-identical packs in every run.
"""

import os
import sys

if __name__ == "__main__":
    if "PYTHONHASHSEED" not in os.environ and not getattr(sys, "frozen", False):
        env = dict(os.environ, PYTHONHASHSEED="0")
        os.execve(sys.executable, [sys.executable, "-m", "sora4j_export"] + sys.argv[1:], env)
    from .cli import main

    sys.exit(main())
