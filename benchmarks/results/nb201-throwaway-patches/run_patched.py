"""Run `benchmarks/seed_range.py` with a throwaway patch: the module named by $PATCH, from this
folder, is imported first (it replaces a strategy method), e.g.

    S=8 PATCH=patch_stall_global python run_patched.py run TABLE --methods M --seeds 60 --out F
"""

import importlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path[:0] = [str(HERE), str(REPO), str(REPO / "benchmarks")]
if os.environ.get("PATCH"):
    importlib.import_module(os.environ["PATCH"])
import seed_range  # noqa: E402

sys.argv = ["seed_range.py", *sys.argv[1:]]
seed_range.main()
