"""LightGBM's single-row predictor, called through its C API with ctypes.

``LGBM_BoosterPredictForMatSingleRowFast`` is LightGBM's lowest-overhead entry point: the
predictor, its buffers and its settings are prepared once (``...FastInit``), and each call
walks the trees of one row and writes the raw scores, with no Python-side conversion, no
thread pool and no per-call parsing of parameters. It is part of LightGBM's public C API
(``c_api.h``) and ships in the ``lib_lightgbm`` every lightgbm wheel contains, so nothing is
compiled on the machine. It is thread-safe: LightGBM serialises calls on one predictor.
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from typing import Any

import numpy as np

from stagewise._exceptions import StagewiseError

__all__ = ["RawScorer"]

_PREDICT_RAW_SCORE = 1  # C_API_PREDICT_RAW_SCORE
_DTYPE_FLOAT64 = 1  # C_API_DTYPE_FLOAT64

_FAST_PREDICT = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int64), ctypes.c_void_p
)
_FAST_INIT = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int32,
    ctypes.c_char_p,
    ctypes.POINTER(ctypes.c_void_p),
)
_FREE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
_LAST_ERROR = ctypes.CFUNCTYPE(ctypes.c_char_p)


def _library() -> Any:
    from lightgbm.libpath import _LIB

    return _LIB


class _Buffers:
    """One thread's row and output arrays, with the addresses the C call takes."""

    def __init__(self, n_features: int, n_outputs: int) -> None:
        self.row = np.zeros(n_features, dtype=np.float64)
        self.out = np.zeros(n_outputs, dtype=np.float64)
        self.row_address = self.row.ctypes.data
        self.out_address = self.out.ctypes.data
        self.length = ctypes.byref(ctypes.c_int64())


def _free(free: Any, handle: ctypes.c_void_p, booster: Any) -> None:
    free(handle)  # booster is an argument so that it outlives the predictor that points into it


class RawScorer:
    """Raw per-class scores of a LightGBM model text, one row or many.

    Parameters
    ----------
    model_text : str
        A LightGBM model in its text format.
    n_features : int
        Columns of every row.
    """

    def __init__(self, model_text: str, n_features: int) -> None:
        import lightgbm as lgb

        lib = _library()
        self._last_error = _LAST_ERROR(("LGBM_GetLastError", lib))
        try:
            self._booster = lgb.Booster(model_str=model_text)
        except lgb.basic.LightGBMError as exc:
            raise StagewiseError(f"LightGBM refused the compiled ensemble: {exc}") from None
        self.n_features = n_features
        self.n_outputs = int(self._booster.num_model_per_iteration())
        handle = ctypes.c_void_p()
        init = _FAST_INIT(("LGBM_BoosterPredictForMatSingleRowFastInit", lib))
        status = init(
            self._booster._handle,
            _PREDICT_RAW_SCORE,
            0,
            -1,
            _DTYPE_FLOAT64,
            n_features,
            b"num_threads=1",
            ctypes.byref(handle),
        )
        self._check(status)
        self._handle = handle
        self._predict = _FAST_PREDICT(("LGBM_BoosterPredictForMatSingleRowFast", lib))
        self._local = threading.local()  # each thread its own input and output buffers
        weakref.finalize(self, _free, _FREE(("LGBM_FastConfigFree", lib)), handle, self._booster)

    def _check(self, status: int) -> None:
        if status != 0:
            message = (self._last_error() or b"").decode("utf-8", "replace")
            raise StagewiseError(f"LightGBM's predictor failed: {message}")

    def _buffers(self) -> _Buffers:
        buffers = _Buffers(self.n_features, self.n_outputs)
        self._local.buffers = buffers
        return buffers

    def one(self, row: Any) -> list[float]:
        """Raw scores of one row of ``n_features`` numbers (array or sequence), ``n_outputs`` floats."""
        try:
            buffers: _Buffers = self._local.buffers
        except AttributeError:
            buffers = self._buffers()
        buffers.row[:] = row
        status = self._predict(self._handle, buffers.row_address, buffers.length, buffers.out_address)
        if status != 0:
            self._check(status)
        out: list[float] = buffers.out.tolist()
        return out

    def many(self, matrix: np.ndarray, n_threads: int = 1) -> np.ndarray:
        """Raw scores of a float64 matrix, shape (n_rows, n_outputs), through LightGBM's batch predict."""
        raw = self._booster.predict(matrix, raw_score=True, num_threads=n_threads)
        return np.asarray(raw, dtype=np.float64).reshape(matrix.shape[0], self.n_outputs)
