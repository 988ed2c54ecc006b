"""The column directory of a workforce file answers as the dict directory does."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator.collect.directory as directory
from simulator.collect.directory import ColumnDirectory, Directory, fnv1a, fnv1a_column

local = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=40)


@settings(max_examples=100, deadline=None)
@given(st.lists(local, max_size=60))
def test_column_hashes_are_the_bytewise_hash(strings: list[str]) -> None:
    got = fnv1a_column(pa.array(strings, pa.string())).tolist()
    assert got == [fnv1a(s.encode()) for s in strings]


def test_a_sliced_array_hashes_its_own_rows() -> None:
    arr = pa.array(["a@x.example", "bb@x.example", "ccc@x.example"])[1:]
    assert fnv1a_column(arr).tolist() == [fnv1a(b"bb@x.example"), fnv1a(b"ccc@x.example")]


people = st.lists(
    st.tuples(
        st.from_regex(r"[A-Za-z][A-Za-z.]{0,12}[0-9]{0,3}@[a-z]{2,5}\.example", fullmatch=True),
        st.sampled_from(["DHS", "DOD", "VA", "OPM"]),
        st.sampled_from(["Ann", "José", "Li"]),
        st.sampled_from(["Lee", "Núñez", "Smith"]),
    ),
    max_size=50,
    unique_by=lambda p: p[0].lower(),
)


@settings(max_examples=80, deadline=None)
@given(people, st.lists(st.from_regex(r"[a-z]{1,8}@[a-z]{2,5}\.example", fullmatch=True)))
def test_column_directory_matches_the_dict_directory(rows: list, strangers: list[str]) -> None:
    table = pa.table(
        {
            "email": [r[0] for r in rows],
            "department": pa.array([r[1] for r in rows], pa.string()).dictionary_encode(),
            "first_name": [r[2] for r in rows],
            "last_name": [r[3] for r in rows],
        }
    )
    cols = ColumnDirectory(table, with_names=True)
    plain = Directory(
        [(r[0], r[1]) for r in rows], name_of=[(r[0], f"{r[2]} {r[3]}") for r in rows]
    )
    assert len(cols) == len(plain) and cols.departments() == plain.departments()
    assert cols.names == plain.names
    for email in [r[0] for r in rows] + [r[0].upper() for r in rows] + strangers:
        assert (email in cols) == (email in plain), email
        assert cols.department(email) == plain.department(email), email
        assert cols.name(email) == plain.name(email), email
    assert 42 not in cols


def test_a_hash_collision_admits_no_stranger() -> None:
    table = pa.table({"email": ["a@x.example"], "department": ["DHS"]})
    cols = ColumnDirectory(table)
    cols._hashes[:] = fnv1a(b"z@x.example")  # as if the stranger's hash were a known one
    assert "z@x.example" not in cols and cols.department("z@x.example") is None
    assert cols.name("a@x.example") == ""  # no names were loaded


def test_a_file_above_the_dict_size_gets_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = pa.table({"email": ["A@x.example", "b@x.example"], "department": ["DHS", "VA"]})
    pq.write_table(table, tmp_path / "wf.parquet")
    assert type(Directory.from_parquet(tmp_path / "wf.parquet")) is Directory
    monkeypatch.setattr(directory, "DICT_UP_TO", 1)
    got = Directory.from_parquet(tmp_path / "wf.parquet")
    assert isinstance(got, ColumnDirectory) and got.department("a@X.example") == "DHS"
