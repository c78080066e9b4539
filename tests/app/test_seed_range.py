"""`benchmarks/seed_range.py`: pooled seed records against a fixed target, drawn runs, on small
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


def draws(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "draws", *args], capture_output=True, text=True, timeout=120
    )


def test_draws_say_how_often_one_run_passes_each_point(tmp_path: Path) -> None:
    def curve(reach_at: int, budget: int = 10) -> list[float]:
        return [1.0 if n >= reach_at else 0.0 for n in range(1, budget + 1)]

    seeds = range(6)
    records = [{"method": "rea", "seed": s, "best_so_far": curve(20, 20)} for s in seeds]
    # bo reaches the target at 5 on every seed, "fast" at 2, "near" at 6 (1.2x bo)
    records += [{"method": "bo", "seed": s, "best_so_far": curve(5)} for s in seeds]
    records += [{"method": "fast", "seed": s, "best_so_far": curve(2)} for s in seeds]
    records += [{"method": "near:x=1", "seed": s, "best_so_far": curve(6)} for s in seeds]
    records += [{"method": "stuck", "seed": s, "best_so_far": [0.0] * 10} for s in seeds]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(records))

    out = draws(
        "--size", "3", "--reference-budget", "20", "--speedup", "4", "--against", "bo", str(path)
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == (
        "6 seeds on record for every method; 2000 runs of 3 seeds drawn with replacement; "
        "target (rea's mean best at 20 over the drawn seeds): median 1.00000 (80% "
        "1.00000-1.00000)"
    )
    shares = "speed-up at least 4.0x (at most 5 evaluations of 20) in"
    assert lines[1:] == [
        f"bo: evals to target median 5 (80% 5-5), never in 0%; {shares} 100%",
        f"fast: evals to target median 2 (80% 2-2), never in 0%; {shares} 100%; fewer than bo "
        "in 100%, at most 1.2x bo in 100%",
        f"near:x=1: evals to target median 6 (80% 6-6), never in 0%; {shares} 0%; fewer than "
        "bo in 0%, at most 1.2x bo in 100%",
        f"stuck: evals to target median never (80% never-never), never in 100%; {shares} 0%; "
        "fewer than bo in 0%, at most 1.2x bo in 0%",
    ]

    # a label pooled under another, one method only, and a fixed target without REA
    out = draws("--target", "0.5", "--methods", "quick", "--rename", "fast->quick", str(path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].endswith(
        "target (fixed): median 0.50000 (80% 0.50000-0.50000)"
    )
    assert out.stdout.splitlines()[1].startswith("quick: evals to target median 2 ")
    assert len(out.stdout.splitlines()) == 2


def test_draws_refuse_records_that_cannot_set_the_target(tmp_path: Path) -> None:
    short = [{"method": "rea", "seed": 0, "best_so_far": [1.0] * 5}]
    short += [{"method": "bo", "seed": 0, "best_so_far": [1.0] * 5}]
    (tmp_path / "short.json").write_text(json.dumps(short))
    out = draws(str(tmp_path / "short.json"))
    assert out.returncode == 1
    assert "rea has fewer than 300 evaluations on seeds [0]: run it with --budget 300" in out.stderr

    (tmp_path / "no-rea.json").write_text(json.dumps(short[1:]))
    out = draws(str(tmp_path / "no-rea.json"))
    assert out.returncode == 1 and "no records of 'rea'" in out.stderr and "--target" in out.stderr

    out = draws("--against", "optuna-gp", "--target", "1", str(tmp_path / "no-rea.json"))
    assert out.returncode == 1 and "no records of 'optuna-gp'" in out.stderr

    out = draws("--size", "0", "--target", "1", str(tmp_path / "no-rea.json"))
    assert out.returncode == 2 and "expected a positive number, got '0'" in out.stderr

    out = draws("--rename", "bo=x", "--target", "1", str(tmp_path / "no-rea.json"))
    assert out.returncode == 2 and "LABEL_IN_RECORDS->NEW_LABEL" in out.stderr


def test_compare_pairs_labels_that_hold_an_equals_sign(tmp_path: Path) -> None:
    a = [{"method": "bo:noise_floor=0.1", "seed": 0, "best_so_far": [1, 2]}]
    b = [{"method": "bo", "seed": 0, "best_so_far": [1, 2]}]
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    files = [str(tmp_path / "a.json"), str(tmp_path / "b.json")]
    out = compare(*files, "--pair", "bo:noise_floor=0.1=bo")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "bo:noise_floor=0.1 / bo: 1 seeds in both, 1 the same throughout"
    ]
    out = compare(*files, "--pair", "bo=bo:noise_floor=0.1")
    assert out.returncode == 1 and "does not split into one label of the first file" in out.stderr


def test_paired_pools_a_method_recorded_under_two_labels(tmp_path: Path) -> None:
    def curve(reach_at: int) -> list[float]:
        return [1.0 if n >= reach_at else 0.0 for n in range(1, 11)]

    old = [{"method": "bo:noise_floor=0.1", "seed": s, "best_so_far": curve(5)} for s in (0, 1)]
    old += [{"method": "fast", "seed": s, "best_so_far": curve(2)} for s in (0, 1, 2, 3)]
    new = [{"method": "bo", "seed": s, "best_so_far": curve(5)} for s in (2, 3)]
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    files = [str(tmp_path / "old.json"), str(tmp_path / "new.json")]
    out = paired("--target", "0.5", "--rename", "bo:noise_floor=0.1->bo", *files)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("fast against bo: 4 seeds in both, evals to target 2 against 5")
