from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from proxy.store.db import display_url, open_session, shared_engine


def test_one_engine_per_database_and_busy_timeout(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    engine = shared_engine(url)
    assert shared_engine(url) is engine
    assert shared_engine(f"sqlite:///{tmp_path / 'b.db'}") is not engine
    assert shared_engine(url, busy_timeout_ms=100) is not engine


def test_postgres_spellings_share_one_engine() -> None:
    pasted = shared_engine("postgresql://user:secret@db.invalid/provproxy")
    assert shared_engine("postgresql+psycopg://user:secret@db.invalid/provproxy") is pasted
    assert shared_engine("postgresql://user:other@db.invalid/provproxy") is not pasted


def test_a_disposed_shared_engine_still_works(tmp_path: Path) -> None:
    engine = shared_engine(f"sqlite:///{tmp_path / 'a.db'}")
    engine.dispose()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_open_session_uses_the_shared_engine(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    with open_session(url) as session:
        assert session.get_bind() is shared_engine(url)
        assert session.execute(text("SELECT 2")).scalar() == 2


def test_display_url_hides_the_password() -> None:
    url = "postgresql://alice:hunter2@db.example/provproxy"
    assert display_url(url) == "postgresql://alice:***@db.example/provproxy"
    assert "hunter2" not in display_url(shared_engine(url))
