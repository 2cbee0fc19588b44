"""Pytest fixtures for the fake vendor server (loaded from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_vendor import FakeVendor


@pytest.fixture(scope="session")
def fake_vendor() -> Iterator[FakeVendor]:
    """One fake vendor server for the whole session."""
    with FakeVendor() as server:
        yield server


@pytest.fixture
def fake(fake_vendor: FakeVendor) -> FakeVendor:
    """The session's fake vendor, with requests, gates and disconnect count cleared."""
    fake_vendor.reset()
    return fake_vendor
