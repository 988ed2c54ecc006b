"""Directory lookups, Parquet loading, tokens, collections."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulator.collect.directory import Directory
from simulator.collections import CollectionIndex, default_collections
from simulator.tokens import agency_of, load_or_create_secret, mint_token
from simulator.validation import InputError


def test_lookup_is_case_insensitive() -> None:
    d = Directory([("Ann.Lee@DHS.example", "DHS")])
    assert d.department("ann.lee@dhs.example") == "DHS"
    assert "ANN.LEE@dhs.example" in d and d.department("x@y.example") is None


def test_from_parquet(tmp_path: Path) -> None:
    table = pa.table(
        {
            "email": ["a@dhs.example"],
            "department": pa.array(["DHS"]).dictionary_encode(),
            "first_name": ["Ann"],
            "last_name": ["Lee"],
        }
    )
    pq.write_table(table, tmp_path / "wf.parquet")
    d = Directory.from_parquet(tmp_path / "wf.parquet", with_names=True)
    assert d.department("a@dhs.example") == "DHS" and "Ann Lee" in d.names
    assert d.name("A@dhs.example") == "Ann Lee"  # her own name, for her signature
    assert Directory.from_parquet(tmp_path / "wf.parquet").name("a@dhs.example") == ""
    with pytest.raises(InputError, match="no such file"):
        Directory.from_parquet(tmp_path / "missing.parquet")


def test_tokens() -> None:
    token = mint_token(b"s" * 32, "DHS")
    assert agency_of(b"s" * 32, f"Bearer {token}") == "DHS"
    assert agency_of(b"t" * 32, f"Bearer {token}") is None  # other secret
    assert agency_of(b"s" * 32, f"Bearer DOD.{token.split('.')[1]}") is None  # forged agency
    assert agency_of(b"s" * 32, None) is None


def test_secret_file_created_private(tmp_path: Path) -> None:
    secret = load_or_create_secret(tmp_path / "s")
    assert load_or_create_secret(tmp_path / "s") == secret
    assert (tmp_path / "s").stat().st_mode & 0o077 == 0


def test_default_collections() -> None:
    index = CollectionIndex(default_collections())
    dhs = index.by_address("Accountability@hq.dhs.example")
    assert dhs is not None and dhs.admits("DHS") and not dhs.admits("DOD")
    assert index.by_address("leadership@dod.example") is not None
    central = index.by_address("hr@opm.example")
    assert central is not None and central.admits("VA")
    with pytest.raises(ValueError):
        CollectionIndex([("a", "x@y.example", None), ("a", "z@y.example", None)])
