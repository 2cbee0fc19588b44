"""Tamper-evident provenance: hash chain, signed Merkle checkpoints, attestations.

Wiring (``proxy/app.py``)::

    provenance = build_provenance(settings, engine)
    recorder = DurableRecorder(settings, chainer=provenance.chain)
    signer = provenance.header_signer          # hooks.HeaderSigner
    provenance.checkpointer.start()            # ... and .stop() on shutdown
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.config import Settings
from proxy.provenance.chain import HashChain, LastSealed
from proxy.provenance.checkpoint import Checkpointer
from proxy.provenance.header import ProvenanceSigner
from proxy.provenance.signing_keys import SigningKey, load_or_create_signing_key
from proxy.store.chain_rows import last_sealed
from proxy.store.db import Database


@dataclass(frozen=True, slots=True)
class Provenance:
    key: SigningKey
    chain: HashChain
    checkpointer: Checkpointer
    header_signer: ProvenanceSigner


def last_sealed_in_database(engine: Database) -> LastSealed:
    return lambda: last_sealed(engine)


def build_provenance(settings: Settings, engine: Database, last_sealed: LastSealed | None = None) -> Provenance:
    """The signing key (created on first start), the chain and the checkpointer.

    ``last_sealed`` defaults to the database's highest sealed row; a writer that
    can hold sealed events outside the database (a spool not yet loaded) must
    pass one that also looks there, or seq numbers would be handed out twice."""
    key = load_or_create_signing_key(settings.signing_key_file)
    checkpointer = Checkpointer(
        engine,
        key,
        settings.checkpoint_dir,
        every_events=settings.checkpoint_every_events,
        every_s=settings.checkpoint_every_s,
    )
    chain = HashChain(last_sealed or last_sealed_in_database(engine), on_sealed=checkpointer.notify_sealed)
    return Provenance(key, chain, checkpointer, ProvenanceSigner(key))
