from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optimizer.spaces import TabularSpace, load_table


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_non_nb201_table_needs_encoding_and_finds_hamming_neighbours(tmp_path: Path) -> None:
    csv = _write(
        tmp_path / "t.csv",
        "arch,encoding,val_acc\na,0 0,1.0\nb,0 1,2.0\nc,1 1,3.0\nd,2 0,\n",
    )
    table = load_table(csv)
    space = TabularSpace.from_table(table)
    assert sorted(space.neighbours("a")) == ["b", "d"]
    assert sorted(space.neighbours("c")) == ["b"]
    assert space.encode(["a"]).shape == (1, 3 + 2)
    assert np.isnan(table.column("val_acc")[3])
    assert len(table.with_proxies([]).archs) == 4


def test_nb201_arch_strings_derive_their_encoding(tmp_path: Path) -> None:
    arch = "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|"
    table = load_table(_write(tmp_path / "t.csv", f"arch,val_acc,zc_x\n{arch},5.0,1.5\n"))
    assert table.codes.tolist() == [[0, 1, 2, 3, 4, 0]]
    assert table.column("zc_x").tolist() == [1.5]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("id,val_acc\na,1\n", "column named 'arch'"),
        ("arch,val_acc\nfoo,1\n", "needs a column 'encoding'"),
        ("arch,encoding\na,0 x\n", "space-separated integers"),
        ("arch,encoding\na,0 1\nb,0\n", "same length"),
        ("arch,encoding\na,0\na,1\n", "duplicate"),
    ],
)
def test_bad_tables_are_rejected_with_a_clear_message(
    tmp_path: Path, text: str, fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        load_table(_write(tmp_path / "t.csv", text))


def test_unknown_column_lists_the_numeric_ones(tmp_path: Path) -> None:
    table = load_table(_write(tmp_path / "t.csv", "arch,encoding,val_acc\na,0,1\n"))
    with pytest.raises(ValueError, match="no column 'zc_synflow'; numeric columns: val_acc"):
        table.column("zc_synflow")


def test_a_column_with_text_is_no_metric_and_says_where_the_text_is(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "arch,encoding,val_acc,note\na,0,1,x\nb,1,n/a,y\n")
    table = load_table(path)
    assert set(table.columns) == set()  # neither is numeric
    with pytest.raises(ValueError, match=r"'val_acc' must hold numbers, but .*t.csv:3 has 'n/a'"):
        table.column("val_acc")
    # a text column stays out of a subset too, with the same message
    with pytest.raises(ValueError, match="'note' must hold numbers"):
        table.subset(np.array([True, False])).column("note")
