"""Settings, all from ``PROVPROXY_*`` environment variables (or a ``.env`` file).

Per-vendor settings are maps keyed by the vendor names of the adapter registry;
each vendor also has its own variables, ``PROVPROXY_UPSTREAM_<VENDOR>`` and
``PROVPROXY_<VENDOR>_API_KEY``, so adding an adapter adds its settings.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from proxy.adapters import ADAPTERS, VENDORS
from proxy.store.location import check_database_url

ENV_PREFIX = "PROVPROXY_"


def _upstream_name(vendor: str) -> str:
    return f"upstream_{vendor}"


def _org_key_name(vendor: str) -> str:
    return f"{vendor}_api_key"


def default_upstreams() -> dict[str, str]:
    return {adapter.vendor: adapter.default_upstream for adapter in ADAPTERS}


class VendorVariables(PydanticBaseSettingsSource):
    """Reads every vendor's own variables (``PROVPROXY_UPSTREAM_ANTHROPIC``, ...)
    out of the environment and the ``.env`` file, under their flat names; the
    settings fold them into their maps."""

    def __init__(self, settings_cls: type[BaseSettings], *readers: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._readers = readers  # highest priority first

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # no field of its own: see __call__

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        names = [_upstream_name(vendor) for vendor in VENDORS] + [_org_key_name(vendor) for vendor in VENDORS]
        for reader in reversed(self._readers):
            variables = getattr(reader, "env_vars", {})
            for name in names:
                value = variables.get((ENV_PREFIX + name).lower())
                if value is not None:
                    found[name] = value
        return found


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8787
    # The admin listener (/metrics, later the security console API): keep it off public interfaces.
    admin_host: str = "127.0.0.1"
    admin_port: int = 8788

    # Where each vendor's traffic goes: an origin, optionally with a path prefix (every vendor has one).
    upstreams: dict[str, str] = Field(default_factory=default_upstreams)

    max_body_bytes: int = 32 * 1024 * 1024
    upstream_connect_timeout_s: float = 10.0
    # Longest silence between two chunks from the upstream (thinking models pause).
    upstream_read_timeout_s: float = 600.0
    # Connections per upstream. Agent calls are long streams (minutes each) that hold a
    # connection throughout, so this bounds concurrent calls per vendor; a call that finds
    # every one busy for upstream_connect_timeout_s is refused (503, "pool full"), never
    # reported as a slow vendor. Each call also holds a client socket: two descriptors.
    upstream_max_connections: int = 1000

    # Client connections (see proxy/limits.py): bounds uvicorn does not set itself.
    max_header_bytes: int = Field(default=64 * 1024, gt=0)
    max_header_count: int = Field(default=100, gt=0)
    # From a connection's (or a request's) first byte to the end of its headers.
    header_timeout_s: float = Field(default=15.0, gt=0)
    # Longest silence between two chunks of a request body.
    body_timeout_s: float = Field(default=60.0, gt=0)
    # Open connections one client address may hold (a team behind one NAT shares it).
    max_connections_per_client: int = Field(default=256, gt=0)

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
    org_keys: dict[str, str] = Field(default_factory=dict)

    # Policy and provenance.
    policy_file: Path | None = None
    appeal_contact: str = "your security team"
    signing_key_file: Path = Path("provproxy-data/signing-key.pem")
    checkpoint_every_events: int = 1000
    checkpoint_every_s: float = 60.0
    checkpoint_dir: Path = Path("provproxy-data/checkpoints")

    log_level: str = "info"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        vendor_variables = VendorVariables(settings_cls, env_settings, dotenv_settings)
        # Before the .env file: it hands on unknown PROVPROXY_* names itself, and the environment beats it.
        return init_settings, env_settings, vendor_variables, dotenv_settings, file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _fold_vendor_variables(cls, values: Any) -> Any:
        """``upstream_<vendor>`` / ``<vendor>_api_key`` (variables or keyword arguments) into the maps."""
        if not isinstance(values, dict):
            return values
        values = dict(values)
        upstreams = dict(values.get("upstreams") or {})
        org_keys = dict(values.get("org_keys") or {})
        for vendor in VENDORS:
            upstream = values.pop(_upstream_name(vendor), None)
            if upstream is not None:
                upstreams[vendor] = upstream
            key = values.pop(_org_key_name(vendor), None)
            if key is not None:
                org_keys[vendor] = key
        values["upstreams"] = upstreams
        values["org_keys"] = org_keys
        return values

    @field_validator("upstreams")
    @classmethod
    def _origins(cls, given: dict[str, str]) -> dict[str, str]:
        unknown = set(given) - set(VENDORS)
        if unknown:
            raise ValueError(f"no adapter for vendor(s) {', '.join(sorted(unknown))} (known: {', '.join(VENDORS)})")
        upstreams = {**default_upstreams(), **given}
        for vendor, url in upstreams.items():
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"upstream of {vendor} must be an http(s) URL, got {url!r}")
            upstreams[vendor] = url.rstrip("/")
        return upstreams

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, url: str) -> str:
        check_database_url(url)
        return url

    def upstream_for(self, vendor: str) -> str:
        return self.upstreams[vendor]

    def vendor_key_for(self, vendor: str) -> str | None:
        return self.org_keys.get(vendor)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
