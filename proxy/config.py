"""Settings, all from ``PROVPROXY_*`` environment variables (or a ``.env`` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_UPSTREAMS = {
    "anthropic": "https://api.anthropic.com",
    "openai": "https://api.openai.com",
    "gemini": "https://generativelanguage.googleapis.com",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROVPROXY_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8787
    # The admin listener (/metrics, later the security console API): keep it off public interfaces.
    admin_host: str = "127.0.0.1"
    admin_port: int = 8788

    # Where each vendor's traffic goes: an origin, optionally with a path prefix.
    upstream_anthropic: str = DEFAULT_UPSTREAMS["anthropic"]
    upstream_openai: str = DEFAULT_UPSTREAMS["openai"]
    upstream_gemini: str = DEFAULT_UPSTREAMS["gemini"]

    max_body_bytes: int = 32 * 1024 * 1024
    upstream_connect_timeout_s: float = 10.0
    # Longest silence between two chunks from the upstream (thinking models pause).
    upstream_read_timeout_s: float = 600.0
    # Connections per upstream. Agent calls are long streams (minutes each) that hold a
    # connection throughout, so this bounds concurrent calls per vendor; a call that finds
    # every one busy for upstream_connect_timeout_s is refused (503, "pool full"), never
    # reported as a slow vendor. Each call also holds a client socket: two descriptors.
    upstream_max_connections: int = 1000

    database_url: str = "sqlite:///provproxy.db"
    # `serve` brings the schema to the latest migration first (idempotent).
    migrate_on_start: bool = True
    # Where the write path spools events while the database is unreachable.
    spool_dir: Path = Path("provproxy-data/spool")
    fail_closed: bool = False
    # When a response may end, relative to its event's durability:
    #   "write": once the event is written to the spool; it survives a crash or kill -9 of the
    #            proxy at once, and a power cut once the next sync (every spool_sync_interval_ms) ran;
    #   "fsync": once a sync of the spool covers it; survives a power cut, and adds the disk's
    #            fdatasync latency (0.1-0.4 ms on an SSD) to every call.
    durability: Literal["write", "fsync"] = "write"
    spool_sync_interval_ms: float = 10.0
    record: bool = True  # off only for benchmarks that measure recording's cost
    writer_batch_size: int = 500
    # While the spool (or the database) is unavailable: how often held events are retried.
    writer_flush_interval_s: float = 0.05
    # How often the loader process looks for newly spooled events (all of them go into one
    # transaction). They are durable in the spool already; only their appearance in queries waits.
    writer_load_linger_s: float = 0.1
    # The loader process's CPU priority. It is background work: a batch it loads must not hold
    # a core that a call in flight (or its client, or its upstream) wakes up on, even for one
    # scheduler slice. "idle" (Linux SCHED_IDLE): it runs when nothing else wants the core, and
    # falls behind only while every core is busy (the spool keeps the events meanwhile);
    # "low": nice 10; "normal": as the proxy.
    loader_priority: Literal["idle", "low", "normal"] = "idle"
    # How often the writer retries a database it lost (events wait in the spool meanwhile).
    writer_retry_interval_s: float = 1.0
    spool_segment_bytes: int = 8 * 1024 * 1024
    # SQLite only: how long a write waits for another writer's lock before failing.
    database_busy_timeout_ms: int = 5000

    # Body retention: what of the request/completion is kept, and for how long.
    retention: Literal["full", "completion-only", "metadata-only"] = "full"
    retention_days: int = 90

    # Identity.
    key_salt: str = Field(default="", description="salt for key hashes; generated and stored if empty")
    require_proxy_key: bool = False
    trusted_identity_header: str | None = None
    trusted_team_header: str | None = None
    trusted_networks: list[str] = Field(default_factory=list)
    # How stale the in-memory copy of the api_keys table may be (revocations wait this long).
    key_cache_ttl_s: float = 2.0
    # The organisation's vendor keys, sent upstream when clients use proxy-issued keys.
    anthropic_api_key: str | None = None
    openai_api_key: str | None = None
    gemini_api_key: str | None = None

    # Policy and provenance.
    policy_file: Path | None = None
    appeal_contact: str = "your security team"
    signing_key_file: Path = Path("provproxy-data/signing-key.pem")
    checkpoint_every_events: int = 1000
    checkpoint_every_s: float = 60.0
    checkpoint_dir: Path = Path("provproxy-data/checkpoints")

    log_level: str = "info"

    @field_validator("upstream_anthropic", "upstream_openai", "upstream_gemini")
    @classmethod
    def _origin(cls, value: str) -> str:
        value = value.rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"upstream must be an http(s) URL, got {value!r}")
        return value

    def upstream_for(self, vendor: str) -> str:
        url: str = getattr(self, f"upstream_{vendor}")
        return url

    def vendor_key_for(self, vendor: str) -> str | None:
        key: str | None = getattr(self, f"{vendor}_api_key", None)
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
