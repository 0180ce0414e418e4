"""The one seam between the server and the model code: turn a loaded ensemble into a scorer.

The server only ever calls ``serving_model(model).predict_proba(X)``. It scores with the
compiled single-row path (:func:`stagewise.serve.fast.compile_ensemble`, the library's
probabilities within 1e-6); a model the fast path cannot reproduce is served by the library.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import numpy as np

from stagewise._exceptions import ConfigError
from stagewise.serve.fast import compile_ensemble

__all__ = ["ProbaModel", "serving_model"]

_LOG = logging.getLogger("stagewise.serve")


class ProbaModel(Protocol):
    """Anything with a binary ``predict_proba`` (column 1 = positive class)."""

    def predict_proba(self, X: Any) -> np.ndarray: ...


def serving_model(model: Any) -> ProbaModel:
    """The object the server scores with: the compiled ensemble, or the library's for what it cannot read.

    ``compile_ensemble`` refuses with a ``ConfigError`` the few settings it cannot reproduce
    exactly (an XGBoost ``dart`` booster, categorical splits, linear trees); such a model is
    then scored by ``model.predict_proba`` itself, and the log says so once per load. The serve
    tests compare served scores with the library at 1e-6, so they hold for both.
    """
    try:
        return compile_ensemble(model)
    except ConfigError as exc:
        _LOG.warning("serving with the library's predict_proba (slower): %s", exc)
        return model  # type: ignore[no-any-return]
