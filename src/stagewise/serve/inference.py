"""The one seam between the server and the model code: turn a loaded ensemble into a scorer.

The server only ever calls ``serving_model(model).predict_proba(X)``. Swapping the library's
``predict_proba`` for the compiled single-row path is the one line in :func:`serving_model`.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

__all__ = ["ProbaModel", "serving_model"]


class ProbaModel(Protocol):
    """Anything with a binary ``predict_proba`` (column 1 = positive class)."""

    def predict_proba(self, X: Any) -> np.ndarray: ...


def serving_model(model: Any) -> ProbaModel:
    """The object the server scores with (the library's ensemble itself for now).

    The compiled single-row path (``stagewise.serve.fast.compile_ensemble``, same probabilities
    within 1e-6) replaces this body with ``return compile_ensemble(model)``; the serve tests
    compare with the library at that tolerance, so they hold for both.
    """
    return model  # type: ignore[no-any-return]
