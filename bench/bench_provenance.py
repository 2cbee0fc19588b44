"""Provenance costs: write path per record (budget ≤ 50 µs) and verify throughput (budget ≥ 50,000/s).

    PYTHONPATH=. .venv/bin/python bench/bench_provenance.py [--records 200000] [--runs 3]

PYTHONPATH=. because it borrows the tests' synthetic event.

Write path = canonicalise + chain (``HashChain.seal`` in writer-sized batches)
+ Merkle append + an Ed25519-signed checkpoint every 1000 records, all in
process. Verify = ``verify_database(full=True)`` over a SQLite file of
synthetic events made with the store's own schema, a checkpoint every 1000.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from proxy.provenance import last_sealed_in_database
from proxy.provenance.chain import HashChain
from proxy.provenance.checkpoint import Checkpointer, sign_checkpoint
from proxy.provenance.merkle import MerkleFrontier
from proxy.provenance.signing_keys import Keyring, load_or_create_signing_key
from proxy.provenance.verify import verify_database
from proxy.store.db import create_db_engine
from proxy.store.models import Base
from proxy.store.rows import event_row
from tests.support.provenance_fixtures import make_event

BATCH = 500
CHECKPOINT_EVERY = 1000


def bench_write_path(records: int, key_dir: Path) -> float:
    key = load_or_create_signing_key(key_dir / "signing-key.pem")
    events = [make_event(i) for i in range(records)]
    chain = HashChain(lambda: None)
    frontier = MerkleFrontier()
    started = time.process_time()
    for offset in range(0, records, BATCH):
        for _, digest, _ in chain.seal(events[offset : offset + BATCH]):
            frontier.append(bytes.fromhex(digest))
            if frontier.size % CHECKPOINT_EVERY == 0:
                sign_checkpoint(key, frontier.size, frontier.root(), datetime.now(UTC))
    return (time.process_time() - started) / records * 1e6  # CPU time: the machine is shared


def build_database(path: Path, records: int, key_dir: Path) -> Keyring:
    engine = create_db_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    key = load_or_create_signing_key(key_dir / "signing-key.pem")
    checkpointer = Checkpointer(engine, key, path.parent / "checkpoints")
    chain = HashChain(last_sealed_in_database(engine))
    table = Base.metadata.tables["events"]
    for offset in range(0, records, CHECKPOINT_EVERY):
        batch = [make_event(offset + i) for i in range(min(CHECKPOINT_EVERY, records - offset))]
        links = chain.seal(batch)
        with engine.begin() as conn:
            conn.execute(table.insert(), [event_row(e, link) for e, link in zip(batch, links, strict=True)])
        checkpointer.checkpoint_now()
    return Keyring([key.public_key])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write = [bench_write_path(min(args.records, 50_000), root) for _ in range(args.runs)]
        print(
            f"write path: median {statistics.median(write):.1f} µs/record (runs: "
            + ", ".join(f"{w:.1f}" for w in write)
            + ")  budget ≤ 50"
        )
        started = time.perf_counter()
        keyring = build_database(root / "events.db", args.records, root)
        print(f"built {args.records} events in {time.perf_counter() - started:.0f}s")
        engine = create_db_engine(f"sqlite:///{root / 'events.db'}")
        rates, cpu_rates = [], []
        for _ in range(args.runs):
            cpu_started = time.process_time()
            report = verify_database(engine, keyring, full=True)
            cpu = time.process_time() - cpu_started
            assert report.ok and report.records_checked == args.records, report.finding
            rates.append(report.records_checked / report.elapsed_s)
            cpu_rates.append(report.records_checked / cpu)
        print(
            f"verify --full: median {statistics.median(rates):,.0f} records/s wall, "
            f"{statistics.median(cpu_rates):,.0f} records/CPU-s (wall runs: "
            + ", ".join(f"{r:,.0f}" for r in rates)
            + ")  budget ≥ 50,000"
        )


if __name__ == "__main__":
    main()
