"""Run `benchmarks/seed_range.py` with a throwaway patch: the module named by $PATCH, from this
folder, is imported first (it replaces a strategy method), e.g.

    S=8 PATCH=patch_stall_global python run_patched.py run TABLE --methods M --seeds 60 --out F

Diagnostics import `import_patch` from here to run under a patch the same way."""

import importlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path[:0] = [str(HERE), str(REPO), str(REPO / "benchmarks")]


def import_patch() -> None:
    """Import the patch $PATCH names, if any."""
    if os.environ.get("PATCH"):
        importlib.import_module(os.environ["PATCH"])


if __name__ == "__main__":
    import_patch()
    import seed_range

    sys.argv = ["seed_range.py", *sys.argv[1:]]
    seed_range.main()
