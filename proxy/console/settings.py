"""The console's own settings (``PROVPROXY_ADMIN_*`` and ``PROVPROXY_CONSOLE_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Role = Literal["viewer", "auditor", "admin"]


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROVPROXY_", env_file=".env", extra="ignore")

    admin_host: str = "127.0.0.1"
    admin_port: int = 8788
    # SSO: the user name a front proxy (oauth2-proxy, an identity-aware proxy) puts in this
    # header, believed only when the connection comes from one of console_trusted_networks.
    console_sso_header: str | None = None
    console_trusted_networks: list[str] = Field(default_factory=list)
    # SSO user → role; users not listed get console_sso_default_role (None: refused).
    console_sso_roles: dict[str, Role] = Field(default_factory=dict)
    console_sso_default_role: Role | None = None
    # SIEM feed (blocked and flagged calls, triage verdicts as OCSF JSON): a JSONL file, a webhook, or both.
    siem_file: Path | None = None
    siem_webhook_url: str | None = None
    siem_poll_interval_s: float = Field(default=1.0, gt=0)
    # Distillation signals (proxy/signals) and the alerts raised on them (proxy/alerts): both run in
    # `provproxy admin` while signals_enabled, looking for new calls and hits every poll interval.
    signals_enabled: bool = True
    signals_poll_interval_s: float = Field(default=5.0, gt=0)
    alert_rules_file: Path | None = None  # None: the shipped proxy/alerts/default_rules.yaml
    alert_webhook_url: str | None = None  # a Slack-compatible incoming webhook
    console_url: str | None = None  # the console's address in alert links; None: the admin listener's

    def console_base_url(self) -> str:
        return self.console_url or f"http://{self.admin_host}:{self.admin_port}"
