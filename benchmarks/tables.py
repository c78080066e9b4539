"""Print the Markdown table of one or more `proxybo benchmark` summaries.

    python benchmarks/tables.py benchmarks/results/nb201-cifar10/summary.json [...]

Rows from several summaries are merged (later files add methods the earlier ones lack); all
must share the same target, which holds when they ran the same seeds of the same table.
`PATH#OPTION` labels the GP methods of that file that carry no option, e.g.
`results/nb201-cifar10-kernel-ard/summary.json#kernel=ard` for a run made when ARD was the
default kernel.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

GP_METHODS = frozenset({"bo", "proxybo", "proxybo-features"})


def table(paths: list[Path]) -> str:
    methods: dict[str, dict[str, Any]] = {}
    target = None
    test_target = None
    for spec in paths:
        path, _, option = str(spec).partition("#")
        summary = json.loads(Path(path).read_text())
        if target is not None and abs(summary["target"] - target) > 1e-9:
            raise SystemExit(f"{path}: target {summary['target']} differs from {target}")
        target = summary["target"]
        test_target = test_target or summary.get("test_target")
        for name, m in summary["methods"].items():
            if option and name in GP_METHODS:
                name = f"{name}:{option}"
            methods.setdefault(name, m)
    lines = [
        f"target {target:.3f}" + (f", test target {test_target:.3f}" if test_target else ""),
        "",
        "| method | evals to target | 80% seed-bootstrap interval | speed-up vs REA "
        "| mean best @55 | @100 | @150 | seeds reaching target | test acc of best "
        "| test acc of best @55 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = sorted(methods, key=lambda k: (methods[k]["evals_to_target"] or 10**9, k))
    for name in order:
        m = methods[name]
        best = m["mean_best"]
        at = [f"{best[i]:.3f}" if len(best) > i else "-" for i in (54, 99, 149)]
        evals = m["evals_to_target"]
        speed = f"{m['speedup_vs_rea']:.2f}x" if m["speedup_vs_rea"] else "-"
        interval = m.get("evals_to_target_interval")  # summaries before it was added lack it
        span = (
            "-"
            if interval is None
            else "-".join(str(v) if v is not None else "never" for v in interval)
        )
        # Summaries made before the test curves were added lack them.
        tests = m.get("mean_test_of_best") or []
        test55 = f"{tests[54]:.3f}" if len(tests) > 54 else "-"
        lines.append(
            f"| {name} | {evals if evals else 'never'} | {span} | {speed} | {' | '.join(at)} "
            f"| {m['seeds_reaching_target']}/{m['seeds']} | {m['final_test_acc_mean']:.3f} "
            f"| {test55} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit("usage: tables.py SUMMARY.json [SUMMARY.json ...]")
    print(table([Path(p) for p in sys.argv[1:]]))
