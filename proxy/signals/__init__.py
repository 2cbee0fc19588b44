"""Distillation signals per principal: who looks like they are harvesting a rival model's outputs
rather than getting work done (docs/signals.md has every definition and default).

:class:`~proxy.signals.engine.SignalEngine` reads the sealed calls incrementally, after a cursor,
and upserts one ``signal_hits`` row per signal, scope and UTC day, with a score (1.0: the
definition's threshold) and the events behind it. Signals: ``volume``, ``sweep``, ``reasoning``,
``dataset``, ``evasion``, ``scripted`` (per principal) and ``coordination`` (a group of principals).
"""

from __future__ import annotations

from proxy.signals.config import SignalConfig
from proxy.signals.engine import SignalEngine

SIGNALS = ("volume", "sweep", "reasoning", "dataset", "evasion", "scripted", "coordination")

__all__ = ["SIGNALS", "SignalConfig", "SignalEngine"]
