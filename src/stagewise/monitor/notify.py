"""Where the notifications lived before they became their own package: :mod:`stagewise.notify`.

Kept so that ``from stagewise.monitor.notify import WebhookNotifier`` (and every other public name of
:mod:`stagewise.notify`) still works; new code imports :mod:`stagewise.notify`.
"""

from __future__ import annotations

from stagewise import notify as _notify
from stagewise.notify import *  # noqa: F403  (the old path names exactly the package's public names)

__all__ = list(_notify.__all__)
