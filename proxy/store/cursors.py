"""Reading positions kept in the ``settings_kv`` table (the SIEM feed's and the alert
deliveries' per-sink cursors): an integer per key, 0 until first moved, only ever moved forward."""

from __future__ import annotations

from sqlalchemy.orm import Session

from proxy.store.models import SettingRow


def read_position(session: Session, key: str) -> int:
    row = session.get(SettingRow, key)
    return int(row.value) if row is not None else 0


def advance_position(session: Session, key: str, value: int) -> None:
    """Move ``key`` to ``value`` unless it is already there or past it; the caller commits."""
    row = session.get(SettingRow, key)
    if row is None:
        session.add(SettingRow(key=key, value=str(value)))
    elif int(row.value) < value:
        row.value = str(value)
