"""``/api/v1/signals`` and ``/api/v1/alerts``: distillation signals and the alerts raised on them."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["signals"])
