"""The portable index: Parquet files plus ``manifest.json`` signed with the proxy's Ed25519 provenance key.

The manifest names the scheme, the tokeniser, every matching parameter, the
counts, the SHA-256 of each Parquet file and the provenance checkpoint the index
covers. The signature covers the RFC 8785 canonical JSON of the manifest without
its ``signature`` field; loading refuses an index whose manifest or files do not
verify against the given public keys (``provproxy keys public``).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import rfc8785

from proxy.exclusion.fingerprint import Params
from proxy.exclusion.index import LoadedIndex, loaded_from_columns
from proxy.provenance.signing_keys import Keyring, SigningKey
from proxy.store.exclusion import SourceMeta

SCHEME = "provproxy-exclusion/1"
TOKENISER = "provproxy-normalise/1"
MANIFEST = "manifest.json"
FINGERPRINTS = "fingerprints.parquet"
UNITS = "units.parquet"


class ManifestError(Exception):
    """An exported index that is not what its signed manifest says (or has no valid signature)."""


def write_export(index: LoadedIndex, out: Path, key: SigningKey, covers: dict[str, Any]) -> dict[str, Any]:
    """Write the Parquet files and the signed manifest."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    hashes, units = index.columns
    pq.write_table(
        pa.table({"hash": pa.array(hashes, pa.int64()), "unit": pa.array(units, pa.int32())}),
        out / FINGERPRINTS,
        compression="zstd",
    )
    metas = index.unit_sources
    pq.write_table(
        pa.table(
            {
                "unit": pa.array(range(len(metas)), pa.int32()),
                "source": [meta.source for meta in metas],
                "kind": [meta.kind for meta in metas],
                "tool": [meta.tool for meta in metas],
                "principal": [meta.principal for meta in metas],
                "ts": [meta.ts.isoformat() if meta.ts else None for meta in metas],
                "language": index.unit_languages,
                "fingerprints": pa.array(np.bincount(units, minlength=len(metas)).tolist(), pa.int32()),
            }
        ),
        out / UNITS,
        compression="zstd",
    )
    manifest: dict[str, Any] = {
        "scheme": SCHEME,
        "tokeniser": TOKENISER,
        "hash": "polynomial mod 2^64 over normalised symbols, splitmix64 finaliser; winnowed",
        "params": asdict(index.params),
        "counts": {
            "sources": len({meta.source for meta in metas}),
            "units": len(metas),
            "fingerprints": len(hashes),
        },
        "files": {name: _sha256(out / name) for name in (FINGERPRINTS, UNITS)},
        "covers": covers,
        "created": datetime.now(UTC).isoformat(),
        "key_id": key.key_id,
    }
    manifest["signature"] = base64.b64encode(key.sign(rfc8785.dumps(manifest))).decode("ascii")
    (out / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return manifest


def verify_manifest(directory: Path, keyring: Keyring) -> dict[str, Any]:
    """The manifest, once its signature and every file's digest check out."""
    try:
        manifest: dict[str, Any] = orjson.loads((directory / MANIFEST).read_bytes())
    except (OSError, ValueError) as exc:
        raise ManifestError(f"cannot read {directory / MANIFEST}: {exc}") from None
    signature = manifest.pop("signature", None)
    if not isinstance(signature, str) or manifest.get("scheme") != SCHEME:
        raise ManifestError(f"{directory / MANIFEST} is not a signed {SCHEME} manifest")
    try:
        raw_signature = base64.b64decode(signature, validate=True)
    except ValueError:
        raise ManifestError("the manifest signature is not base64") from None
    if not keyring.verify(str(manifest.get("key_id")), rfc8785.dumps(manifest), raw_signature):
        raise ManifestError(
            f"the manifest signature does not verify with the given public keys (key id {manifest.get('key_id')})"
        )
    for name, digest in manifest["files"].items():
        path = directory / name
        if not path.is_file() or _sha256(path) != digest:
            raise ManifestError(f"{name} does not match the signed manifest (altered, replaced or missing)")
    return manifest


def load_export(directory: Path, keyring: Keyring) -> LoadedIndex:
    import pyarrow.parquet as pq

    manifest = verify_manifest(directory, keyring)
    fingerprints = pq.read_table(directory / FINGERPRINTS)
    units = pq.read_table(directory / UNITS).to_pydict()
    metas = [
        SourceMeta(source, kind, tool, principal, datetime.fromisoformat(ts) if ts else None)
        for source, kind, tool, principal, ts in zip(
            units["source"], units["kind"], units["tool"], units["principal"], units["ts"], strict=True
        )
    ]
    return loaded_from_columns(
        Params(**manifest["params"]),
        fingerprints.column("hash").to_numpy(),
        fingerprints.column("unit").to_numpy(),
        np.array(units["fingerprints"], dtype=np.int32),
        metas,
        list(units["language"]),
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
