"""Workforce files: Parquet for the table, a JSON manifest beside it for provenance.

Theory of operation: `build_workforce` stamps its seed, scale, package version and the
calibration tables' sha256 into the table's schema metadata, so the table carries its
own provenance. `write_workforce` writes the Parquet file (to a temporary name, then
renamed, so a reader never sees half a file) and `<path>.manifest.json` with the same
facts plus the row count. `read_workforce` checks the columns against `WORKFORCE`.
`write_workforce_parts` writes a workforce built copy by copy (scale above 1) through one
`ParquetWriter`, a row group or more per copy, so only one copy is in memory at a time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from simulator.tables import manifest_path, read_stage
from simulator.validation import InputError

META_PREFIX = "pulsecheck."
PROVENANCE_KEYS = ("seed", "scale", "version", "tables_sha256", "faker_version")
COPIES_KEY = "copies"  # in a workforce built copy by copy: how many copies it holds


def stamp(table: pa.Table, provenance: dict[str, Any]) -> pa.Table:
    """The table with provenance in its schema metadata (values stored as JSON)."""
    meta = {f"{META_PREFIX}{k}".encode(): json.dumps(v).encode() for k, v in provenance.items()}
    return table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})


def provenance(table: pa.Table) -> dict[str, Any]:
    """The provenance `stamp` stored, as plain values."""
    meta = table.schema.metadata or {}
    out: dict[str, Any] = {}
    for key in PROVENANCE_KEYS:
        raw = meta.get(f"{META_PREFIX}{key}".encode())
        out[key] = json.loads(raw) if raw is not None else None
    return out


@dataclass(frozen=True)
class WorkforceManifest:
    """What a workforce file records about how it was made (`<file>.manifest.json`)."""

    rows: int
    file: str
    seed: int | None = None
    scale: float | None = None
    version: str | None = None
    tables_sha256: str | None = None
    faker_version: str | None = None


def write_workforce(table: pa.Table, path: Path) -> Path:
    """Write the Parquet file and its manifest; return the manifest's path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="snappy")  # 2x faster to write than zstd
    os.replace(tmp, path)
    manifest = WorkforceManifest(rows=table.num_rows, file=path.name, **provenance(table))
    target = manifest_path(path)
    doc = json.dumps(asdict(manifest), indent=2, sort_keys=True) + "\n"
    target.write_text(doc, encoding="utf-8")
    return target


def _part_options(schema: pa.Schema) -> dict[str, Any]:
    """Writer options for a workforce of many copies: dictionary pages only for the coded
    columns and no statistics for the strings (names and emails are almost all distinct,
    and trying them costs 30% of the write time; the columns read back the same)."""
    coded = [f.name for f in schema if pa.types.is_dictionary(f.type)]
    plain = [f.name for f in schema if not pa.types.is_string(f.type)]
    return {"compression": "snappy", "use_dictionary": coded, "write_statistics": plain}


def write_workforce_parts(parts: Iterable[pa.Table], path: Path) -> tuple[int, Path]:
    """Write copies of one workforce (same schema, in row order) as one Parquet file and
    its manifest, one copy at a time; return the rows written and the manifest's path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    writer: pq.ParquetWriter | None = None
    rows, first = 0, None
    try:
        for table in parts:
            if writer is None:
                first = table.schema
                writer = pq.ParquetWriter(tmp, first, **_part_options(first))
            writer.write_table(table)
            rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    if first is None:
        raise ValueError("a workforce needs at least one part")
    os.replace(tmp, path)
    facts = provenance(pa.Table.from_batches([], schema=first))
    manifest = WorkforceManifest(rows=rows, file=path.name, **facts)
    target = manifest_path(path)
    doc = json.dumps(asdict(manifest), indent=2, sort_keys=True) + "\n"
    target.write_text(doc, encoding="utf-8")
    return rows, target


def copies_of(schema: pa.Schema) -> int:
    """How many copies a workforce file holds (1 unless it was built copy by copy)."""
    raw = (schema.metadata or {}).get(f"{META_PREFIX}{COPIES_KEY}".encode())
    value = json.loads(raw) if raw is not None else 1
    return value if isinstance(value, int) and value >= 1 else 1


def read_manifest(path: Path) -> WorkforceManifest:
    """The manifest beside a workforce file, checked."""
    target = manifest_path(Path(path))
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
        known = {f.name for f in fields(WorkforceManifest)}
        return WorkforceManifest(**{k: v for k, v in data.items() if k in known})
    except (OSError, ValueError, TypeError, AttributeError) as err:
        raise InputError(
            str(target), "(file)", str(target), f"must be a readable manifest: {err}"
        ) from err


def read_workforce(path: Path) -> pa.Table:
    """Read a workforce Parquet file; its columns must match `WORKFORCE`."""
    return read_stage(path, "workforce")
