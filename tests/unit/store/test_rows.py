"""Rows, body compression and the binary spool record: what goes to disk comes back the same."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest
import zstandard

from proxy.store.rows import (
    body_row,
    compress,
    decode_chain_link,
    decode_record,
    decompress,
    encode_record,
    event_row,
    record_json,
)
from tests.support.store_fixtures import make_event

CLAUDE_CODE_BODY = (Path(__file__).resolve().parents[2] / "data/bodies/claude_code_multi_turn.json").read_bytes()


def test_bodies_are_zstd_frames_that_decompress_to_the_original() -> None:
    stored = compress(CLAUDE_CODE_BODY)
    assert stored is not None
    assert stored[:4] == b"\x28\xb5\x2f\xfd", "not a zstd frame"
    assert len(stored) < len(CLAUDE_CODE_BODY) / 5
    assert decompress(stored) == CLAUDE_CODE_BODY
    # Any zstd decoder reads it (the frame carries its size: no output bound needed).
    assert zstandard.ZstdDecompressor().decompress(stored) == CLAUDE_CODE_BODY
    assert decompress(compress("naïve ünïcode")) == "naïve ünïcode".encode()
    assert compress(None) is None and decompress(None) is None
    assert decompress(compress(b"")) == b""


def test_spool_record_round_trip_with_every_body_column() -> None:
    event = make_event(
        request_body=CLAUDE_CODE_BODY,
        instruction="fix the failing test",
        completion_text="Done: the parser now handles empty input.",
        thinking_text="the test feeds an empty string",
        tool_calls=[{"name": "Edit", "input": {"path": "parser.py"}}],
        scores={"eval_task": 0.12},
        rule_hits=["mentions-benchmark"],
    )
    pair = (event_row(event, (7, "a" * 64, "b" * 64)), body_row(event, "full"))
    payload = encode_record(pair)

    assert decode_record(payload) == pair
    assert decode_chain_link(payload) == (7, "a" * 64)
    assert CLAUDE_CODE_BODY not in payload, "request bodies are spooled compressed"


@pytest.mark.parametrize(
    "fields",
    [
        {},  # no body row at all
        {"completion_text": "only a completion"},  # request body and thinking NULL
        {"request_body": b"", "completion_text": ""},  # empty, not NULL
    ],
)
def test_spool_record_round_trip_with_missing_bodies(fields: dict[str, object]) -> None:
    event = make_event(**fields)
    pair = (event_row(event), body_row(event, "full"))
    decoded = decode_record(encode_record(pair))
    assert decoded == pair
    assert decode_chain_link(encode_record(pair)) == (None, None)


def test_rejected_record_is_one_readable_json_line() -> None:
    event = make_event(request_body=b'{"messages":[]}', completion_text="answer")
    pair = (event_row(event), body_row(event, "full"))
    line = record_json(pair)
    assert b"\n" not in line
    data = orjson.loads(line)
    assert data["e"]["id"] == event.id
    assert decompress(base64.b64decode(data["b"]["completion_text"])) == b"answer"


def test_a_record_spooled_before_instructions_were_compressed_still_loads() -> None:
    """A spool left by the previous release (three blobs, the instruction as plain text) is replayed
    after an upgrade: it must load, with its instruction compressed like new rows."""
    event = make_event(request_body=b'{"messages":[]}', instruction="port the parser", completion_text="ok")
    body = body_row(event, "full")
    assert body is not None
    legacy_plain = {"event_id": body["event_id"], "instruction": "port the parser", "tool_calls": None}
    legacy_plain["created_at"] = body["created_at"]
    blobs = [body["request_body"], body["completion_text"]]
    meta = orjson.dumps({"e": event_row(event), "b": legacy_plain, "z": [len(blobs[0]), len(blobs[1]), None]})
    payload = len(meta).to_bytes(4, "big") + meta + b"".join(blobs)

    _, decoded = decode_record(payload)
    assert decoded is not None
    assert decompress(decoded["instruction"]) == b"port the parser"
    assert decompress(decoded["request_body"]) == b'{"messages":[]}'
    assert decompress(decoded["completion_text"]) == b"ok" and decoded["thinking_text"] is None
