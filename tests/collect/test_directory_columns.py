"""The column directory of a workforce file answers as the dict directory does."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator.collect.directory as directory
from simulator.collect.directory import ColumnDirectory, Directory, string_hashes


def test_each_address_hash_is_python_s_hash_unsigned() -> None:
    strings = ["a@x.example", "josé@x.example", ""]
    arr = pa.array(["z@x.example", *strings], pa.string())[1:]  # a slice: its own rows
    assert string_hashes(arr).tolist() == [hash(s) & directory.MASK64 for s in strings]


people = st.lists(
    st.tuples(
        st.from_regex(r"[A-Za-zéÉ][A-Za-zñÑ.]{0,12}[0-9]{0,3}@[a-z]{2,5}\.example", fullmatch=True),
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
    _check_against_dict(rows, strangers)


@settings(max_examples=40, deadline=None)
@given(people, st.lists(st.from_regex(r"[a-z]{1,8}@[a-z]{2,5}\.example", fullmatch=True)))
def test_when_every_hash_collides_the_bytes_decide(rows: list, strangers: list[str]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(directory, "HASH", lambda s: 7)  # one bucket, one hash: all collide
        _check_against_dict(rows, strangers)


def _check_against_dict(rows: list, strangers: list[str]) -> None:
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


def test_a_directory_sent_to_another_process_hashes_its_addresses_there() -> None:
    # str hashes are salted per process: a pickled directory must not bring its own
    table = pa.table({"email": ["A@x.example", "b@x.example"], "department": ["DHS", "VA"]})
    cols = ColumnDirectory(table)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        got = pool.apply(_departments, (cols, ["a@x.example", "B@x.example", "z@x.example"]))
    assert got == ["DHS", "VA", None]
    assert cols.name("a@x.example") == ""  # no names were loaded


def _departments(cols: ColumnDirectory, emails: list[str]) -> list[str | None]:
    return [cols.department(e) for e in emails]


def test_a_file_above_the_dict_size_gets_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = pa.table({"email": ["A@x.example", "b@x.example"], "department": ["DHS", "VA"]})
    pq.write_table(table, tmp_path / "wf.parquet")
    assert type(Directory.from_parquet(tmp_path / "wf.parquet")) is Directory
    monkeypatch.setattr(directory, "DICT_UP_TO", 1)
    got = Directory.from_parquet(tmp_path / "wf.parquet")
    assert isinstance(got, ColumnDirectory) and got.department("a@X.example") == "DHS"
