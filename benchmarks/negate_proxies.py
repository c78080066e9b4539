"""Write a copy of a benchmark table with every proxy column (`zc_*`) negated.

A misleading proxy for the robustness check: ProxyBO must notice that the proxies order the
evaluated architectures backwards and hand the steering to its GP.

    python benchmarks/negate_proxies.py ../shared/data/nb201/cifar10.csv /tmp/cifar10-negated.csv
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def negate(src: Path, dst: Path) -> int:
    """Copy `src` to `dst` with `zc_*` values negated; returns the number of rows."""
    with src.open(newline="") as fin, dst.open("w", newline="") as fout:
        reader = csv.DictReader(fin)
        if reader.fieldnames is None:
            raise SystemExit(f"{src}: empty table")
        writer = csv.DictWriter(fout, fieldnames=reader.fieldnames)
        writer.writeheader()
        n = 0
        for row in reader:
            for key in reader.fieldnames:
                if key.startswith("zc_") and row[key] not in ("", None):
                    row[key] = repr(-float(row[key]))
            writer.writerow(row)
            n += 1
    return n


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: negate_proxies.py SOURCE.csv DEST.csv")
    rows = negate(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"wrote {rows} rows to {sys.argv[2]}")
