"""The security team's console API (``/api/v1``): a self-contained FastAPI app.

``create_console_app(settings)`` is served alone by ``provproxy admin`` or
mounted into the admin listener of ``provproxy serve``.
"""

from __future__ import annotations

from proxy.console.app import create_console_app

__all__ = ["create_console_app"]
