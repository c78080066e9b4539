"""`benchmarks/seed_range.py score`: pooled seed records against a fixed target, on small
made-up curves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "seed_range.py"


def score(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "score", *args], capture_output=True, text=True, timeout=120
    )


def test_score_pools_files_and_prints_the_mean_best_at_given_evaluations(tmp_path: Path) -> None:
    # Two seeds per file; the mean of the four curves is 1, 2, 3, 4, 5.
    curves = {0: [0, 1, 2, 3, 4], 1: [2, 3, 4, 5, 6], 2: [1, 2, 3, 4, 5], 3: [1, 2, 3, 4, 5]}
    for name, seeds in (("a.json", (0, 1)), ("b.json", (2, 3))):
        records = [{"method": "m", "seed": s, "best_so_far": curves[s]} for s in seeds]
        (tmp_path / name).write_text(json.dumps(records))
    files = [str(tmp_path / "a.json"), str(tmp_path / "b.json")]

    out = score("--target", "3", "--at", "1,3,5,9", *files)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("m: 4 seeds, evals to target 3 ")
    # each mean with its 80% seed-bootstrap interval; the evaluations past the curves' end (9)
    # are left out
    assert lines[1].startswith("  mean best: 1.000 (")
    parts = lines[1].removeprefix("  mean best: ").split(", ")
    assert [p.split(" at ")[1] for p in parts] == ["1", "3", "5"]
    for part, mean in zip(parts, (1.0, 3.0, 5.0), strict=True):
        value, span = part.split(" at ")[0].split(" (")
        lo, hi = map(float, span.rstrip(")").split("-"))
        assert float(value) == mean
        # four seeds spread by 1 either side of the mean: the resampled means vary
        assert mean - 1 <= lo < mean < hi <= mean + 1

    assert "mean best" not in score("--target", "3", *files).stdout


def test_the_interval_of_the_mean_best_is_a_point_where_every_seed_agrees(tmp_path: Path) -> None:
    records = [{"method": "m", "seed": s, "best_so_far": [1, 2, 2]} for s in range(5)]
    (tmp_path / "r.json").write_text(json.dumps(records))
    out = score("--target", "9", "--at", "2", str(tmp_path / "r.json"))
    assert out.stdout.splitlines()[1] == "  mean best: 2.000 (2.000-2.000) at 2"


def test_score_refuses_bad_evaluation_counts(tmp_path: Path) -> None:
    for bad in ("0,10", "ten"):
        out = score("--target", "3", "--at", bad, str(tmp_path / "none.json"))
        assert out.returncode == 2
        assert "--at" in out.stderr


def test_score_gives_the_rounds_of_a_batched_method(tmp_path: Path) -> None:
    # The mean reaches 3 at evaluation 7: two rounds of 4 for batch_size=4, none for batch 1.
    curve = [0, 0, 1, 1, 2, 2, 3, 3, 3]
    records = [
        {"method": m, "seed": s, "best_so_far": curve}
        for m in ("bo:batch_size=4", "bo")
        for s in (0, 1)
    ]
    (tmp_path / "r.json").write_text(json.dumps(records))
    lines = score("--target", "3", str(tmp_path / "r.json")).stdout.splitlines()
    assert lines[0].startswith("bo:batch_size=4: 2 seeds, evals to target 7 = 2 rounds of 4 (80%")
    assert lines[1].startswith("bo: 2 seeds, evals to target 7 (80%")


def test_score_piped_into_a_reader_that_stops_early_ends_without_a_traceback(
    tmp_path: Path,
) -> None:
    # Many methods, so the output outgrows the pipe's buffer after the reader has gone.
    records = [
        {"method": f"method-{m}", "seed": s, "best_so_far": [1.0, 2.0, 3.0]}
        for m in range(3000)
        for s in range(2)
    ]
    (tmp_path / "r.json").write_text(json.dumps(records))
    out = subprocess.run(
        f"{sys.executable} {SCRIPT} score --target 2 --at 1,2,3 {tmp_path / 'r.json'} | head -n 1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout.startswith("method-0: 2 seeds")
    assert "Traceback" not in out.stderr
    assert out.stderr == ""


def compare(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "compare", *args], capture_output=True, text=True, timeout=120
    )


def test_compare_names_where_each_seed_parts(tmp_path: Path) -> None:
    first = [
        {"method": "m", "seed": 0, "best_so_far": [1, 2, 3, 4]},
        {"method": "m", "seed": 1, "best_so_far": [1, 2, 3, 4]},
        {"method": "m", "seed": 2, "best_so_far": [1, 2, 3, 4]},
        {"method": "only-here", "seed": 0, "best_so_far": [1]},
    ]
    second = [
        {"method": "m", "seed": 0, "best_so_far": [1, 2, 3, 4]},  # the same
        {"method": "m", "seed": 1, "best_so_far": [1, 2, 2, 4]},  # parts at 3
        {"method": "m", "seed": 2, "best_so_far": [0, 2, 3, 4]},  # parts at 1
        {"method": "m", "seed": 9, "best_so_far": [5]},  # not in the first file
    ]
    (tmp_path / "a.json").write_text(json.dumps(first))
    (tmp_path / "b.json").write_text(json.dumps(second))
    out = compare(str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "m: 3 seeds in both, 1 the same throughout, 2 part at evaluations 1, 3 (median 2)"
    ]


def test_compare_pairs_labels_and_refuses_files_with_no_method_in_common(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps([{"method": "x", "seed": 0, "best_so_far": [1]}]))
    (tmp_path / "b.json").write_text(json.dumps([{"method": "y", "seed": 0, "best_so_far": [1]}]))
    files = [str(tmp_path / "a.json"), str(tmp_path / "b.json")]

    out = compare(*files)
    assert out.returncode == 1
    assert "--pair" in out.stderr and "['x'] against ['y']" in out.stderr

    out = compare(*files, "--pair", "x=y")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["x / y: 1 seeds in both, 1 the same throughout"]

    out = compare(*files, "--pair", "x")
    assert out.returncode == 2 and "LABEL_IN_FIRST=LABEL_IN_SECOND" in out.stderr


def paired(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "paired", *args], capture_output=True, text=True, timeout=120
    )


def test_paired_sets_every_method_against_bo_over_the_seeds_both_have(tmp_path: Path) -> None:
    def curve(reach_at: int) -> list[float]:
        return [1.0 if n >= reach_at else 0.0 for n in range(1, 11)]

    luck = {0: 2, 1: 4, 2: 6, 3: 8}
    records = [{"method": "bo", "seed": s, "best_so_far": curve(t + 1)} for s, t in luck.items()]
    records += [{"method": "fast", "seed": s, "best_so_far": curve(t)} for s, t in luck.items()]
    records += [{"method": "stuck", "seed": s, "best_so_far": [0.0] * 10} for s in (0, 1, 9)]
    records += [{"method": "elsewhere", "seed": 7, "best_so_far": curve(1)}]
    (tmp_path / "r.json").write_text(json.dumps(records))

    out = paired("--target", "0.5", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "fast against bo: 4 seeds in both, evals to target 4 against 5; first in 100% of seed "
        "resamples, tied in 0%, behind in 0%; difference (80%) -1 to -1",
        # seeds 0 and 1 only; bo reaches 0.5 at 3, or at 5 in the quarter of resamples that
        # draw seed 1 twice
        "stuck against bo: 2 seeds in both, evals to target never against 3; first in 0% of "
        "seed resamples, tied in 0%, behind in 100%; difference (80%) 6 to 8 (at least one "
        "never reaches it within 10 in 100%: counted at 11)",
        "elsewhere: no seed in common with bo",
    ]

    out = paired("--target", "0.5", "--against", "fast", str(tmp_path / "r.json"))
    assert out.stdout.splitlines()[0].startswith("bo against fast: 4 seeds in both")

    out = paired("--target", "0.5", "--against", "rea", str(tmp_path / "r.json"))
    assert out.returncode == 1
    assert "no records of 'rea'" in out.stderr and "'fast'" in out.stderr
