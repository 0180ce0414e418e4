"""The prediction server: FastAPI app, rollout routing, lossless ledger logging.

``create_app(settings)`` builds the app; ``stagewise serve`` runs it on uvicorn. See
``docs/serving.md``.
"""

from __future__ import annotations

from stagewise.serve.app import create_app
from stagewise.serve.logging_queue import LedgerQueue, MonitorSink
from stagewise.serve.settings import ServeSettings

__all__ = ["LedgerQueue", "MonitorSink", "ServeSettings", "create_app"]
