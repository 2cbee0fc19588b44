"""The fast canonicaliser is byte-identical to RFC 8785 (``rfc8785``) on the values it takes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import rfc8785
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.provenance.canonical import (
    BOOL_FIELDS,
    CANONICAL_FIELDS,
    INT_FIELDS,
    MAX_SAFE_INT,
    V2_FIELDS,
    canonical_event,
    canonical_values,
    format_ts,
)
from proxy.provenance.chain import content_digest
from tests.support import provenance_fixtures
from tests.support.provenance_fixtures import Store, make_event

# This module's fixtures (tests/support/provenance_fixtures.py says why they are assigned).
signing_key = provenance_fixtures.signing_key
store = provenance_fixtures.store

# Lone surrogates cannot be encoded as UTF-8 (neither library accepts them).
SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
TEXT = st.text(alphabet=st.characters(exclude_categories=SURROGATES))
INTS = st.integers(min_value=-MAX_SAFE_INT, max_value=MAX_SAFE_INT)


def field_strategy(name: str) -> st.SearchStrategy[Any]:
    if name == "ts":
        return st.datetimes(timezones=st.just(UTC))
    if name in BOOL_FIELDS:
        return st.booleans()
    if name in INT_FIELDS:
        return st.none() | INTS
    return st.none() | TEXT


RECORDS = st.fixed_dictionaries({name: field_strategy(name) for name in CANONICAL_FIELDS})


@settings(max_examples=300, deadline=None)
@given(RECORDS)
def test_matches_rfc8785(record: dict[str, Any]) -> None:
    values = [record[name] for name in CANONICAL_FIELDS]
    expected = dict(record, ts=format_ts(record["ts"]))
    if record["record_version"] in (None, 1):  # sealed in the version-1 form: no body digests
        expected = {name: value for name, value in expected.items() if name not in V2_FIELDS}
    assert canonical_values(values) == rfc8785.dumps(expected)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(TEXT, st.none() | st.booleans() | INTS | TEXT, max_size=8))
def test_orjson_escaping_matches_rfc8785_for_any_keys_and_strings(obj: dict[str, Any]) -> None:
    # The property the canonicaliser relies on (keys here are pre-sorted the RFC 8785 way).
    import orjson

    ordered = dict(sorted(obj.items(), key=lambda item: item[0].encode("utf-16-be")))
    assert orjson.dumps(ordered) == rfc8785.dumps(obj)


def test_ts_formats() -> None:
    aware = datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert format_ts(aware) == "2025-01-02T03:04:05.000006Z"
    assert format_ts(aware.replace(tzinfo=None)) == "2025-01-02T03:04:05.000006Z"
    assert format_ts("2025-01-02 03:04:05.000006") == "2025-01-02T03:04:05.000006Z"


def test_event_and_stored_row_canonicalise_identically(store: Store) -> None:
    [event] = store.record(1)
    with store.engine.connect() as conn:
        row: Any = conn.execute(
            sa.select(*[sa.column(n) for n in CANONICAL_FIELDS]).select_from(sa.table("events"))
        ).one()
    assert canonical_values(row) == canonical_event(event)
    assert len(content_digest(event)) == 64


def test_excluded_fields_do_not_change_the_form() -> None:
    event = make_event(3)
    before = canonical_event(event)
    event.latency_ms, event.client_addr, event.error, event.completion_text = 1.0, "10.0.0.1", "x", "hi"
    assert canonical_event(event) == before
    event.model = "other"
    assert canonical_event(event) != before
