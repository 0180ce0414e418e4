"""One unit of walk-forward work: fit a model on a training window, predict the test windows.

A :class:`ChunkTask` carries plain arrays and a picklable model factory, so the same function
runs in-process, in a process pool or on a Dask worker and gives the same bytes. With
``refit_every=k`` a chunk is k consecutive steps sharing the model fitted on the first one.
:class:`StepCache` keeps finished chunks as ``.npz`` + JSON (never a pickle), keyed by a hash of
the configuration, the data slice and the code version, so a restarted run skips them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stagewise._version import __version__

__all__ = [
    "ChunkResult",
    "ChunkTask",
    "StepCache",
    "code_version",
    "describe_factory",
    "run_chunk",
    "task_key",
]


@dataclass(frozen=True)
class ChunkTask:
    """Arrays and settings for one fit and the predictions made with it."""

    chunk: int
    steps: tuple[int, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    x_tests: tuple[np.ndarray, ...]
    feature_names: tuple[str, ...]
    model_factory: Callable[[], Any]
    model_threads: int
    permute_seed: int | None
    key: str
    #: when set, the worker also scores its steps (``domain.score_rows``) so the parent does not
    domain: Any = None
    score_rows: tuple[pd.DataFrame, ...] = ()
    #: the domain's data for a second model fitted beside the first (races: the place model)
    second_stage: Any = None
    #: "isotonic" or "platt": fit the model on the rows outside ``holdout`` and a calibrator on
    #: the holdout (the training window's last days; never a test row)
    calibration: str | None = None
    holdout: np.ndarray | None = None


@dataclass(frozen=True)
class ChunkResult:
    """Positive-class probabilities per step of the chunk, and the time spent."""

    chunk: int
    probas: tuple[np.ndarray, ...]
    fit_seconds: float
    predict_seconds: tuple[float, ...]
    cached: bool = False
    scores: tuple[Any, ...] | None = None
    #: the fitted model's flavour and input signature (``describe_model``)
    model_info: dict[str, Any] | None = None
    #: with calibration: the model's probabilities before the calibrator, and the calibrator
    raw_probas: tuple[np.ndarray, ...] | None = None
    calibrator: dict[str, Any] | None = None


def describe_model(model: Any) -> dict[str, Any]:
    """``{"flavour", "signature"}`` of a fitted model, as the registry would store it."""
    from stagewise._exceptions import StagewiseError
    from stagewise.models.flavours import as_flavour

    try:
        flavour = as_flavour(model)
    except StagewiseError as exc:
        return {"flavour": None, "signature": None, "note": f"{type(exc).__name__}: {exc}"}
    return {"flavour": flavour.name, "signature": flavour.signature_.to_json()["features"]}


def _make_model(factory: Callable[[], Any], threads: int) -> Any:
    model = factory()
    params = model.get_params() if hasattr(model, "get_params") else {}
    if "n_jobs" in params:
        model.set_params(n_jobs=threads)
    return model


def run_chunk(task: ChunkTask) -> ChunkResult:
    """Fit on the chunk's training window (labels shuffled when ``permute_seed`` is set), predict."""
    y = task.y_train
    if task.permute_seed is not None:
        y = np.random.default_rng(task.permute_seed).permutation(y)
    names = list(task.feature_names)
    started = time.perf_counter()
    model = _make_model(task.model_factory, task.model_threads)
    calibrator = None
    if task.calibration is not None and task.holdout is not None and task.holdout.any():
        from stagewise.models.calibration import ProbabilityCalibrator

        held = task.holdout
        model.fit(pd.DataFrame(task.x_train[~held], columns=names), y[~held])
        raw_held = np.asarray(model.predict_proba(pd.DataFrame(task.x_train[held], columns=names)))[:, 1]
        calibrator = ProbabilityCalibrator(task.calibration).fit(raw_held, y[held])
    else:
        model.fit(pd.DataFrame(task.x_train, columns=names), y)
    stage = None
    if task.second_stage is not None:
        stage = task.domain.fit_second_stage(
            task.x_train, task.second_stage, task.model_threads, task.permute_seed
        )
    fit_seconds = time.perf_counter() - started
    probas: list[np.ndarray] = []
    raws: list[np.ndarray] = []
    predict_seconds: list[float] = []
    for i, x_test in enumerate(task.x_tests):
        started = time.perf_counter()
        if len(x_test):
            proba = np.asarray(model.predict_proba(pd.DataFrame(x_test, columns=names)), dtype=np.float64)[
                :, 1
            ]
        else:
            proba = np.empty(0, dtype=np.float64)
        if calibrator is not None:
            raws.append(np.ascontiguousarray(proba))
            proba = calibrator.predict(proba)
        if stage is not None:
            proba = task.domain.apply_second_stage(stage, task.score_rows[i], x_test, proba)
        predict_seconds.append(time.perf_counter() - started)
        probas.append(np.ascontiguousarray(proba))
    scores = None
    if task.domain is not None:
        scores = tuple(
            task.domain.score_rows(rows, step, proba)
            for rows, step, proba in zip(task.score_rows, task.steps, probas, strict=True)
        )
    return ChunkResult(
        task.chunk,
        tuple(probas),
        fit_seconds,
        tuple(predict_seconds),
        scores=scores,
        model_info=describe_model(model),
        raw_probas=tuple(raws) if calibrator is not None else None,
        calibrator=calibrator.to_dict() if calibrator is not None else None,
    )


def describe_factory(factory: Callable[..., Any]) -> str:
    """A stable text naming a model factory (no memory addresses), for cache keys and reports."""
    if isinstance(factory, functools.partial):
        keywords = json.dumps(factory.keywords, sort_keys=True, default=repr)
        return f"{describe_factory(factory.func)}(*{factory.args!r}, **{keywords})"
    module = getattr(factory, "__module__", None)
    name = getattr(factory, "__qualname__", None)
    if module and name:
        return f"{module}.{name}"
    return repr(factory)


@functools.cache
def code_version() -> str:
    """Package version plus a hash of the modules whose code decides a step's output."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(__version__.encode())
    for sub in ("backtest/steps.py", "models"):
        path = root / sub
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return f"{__version__}+{digest.hexdigest()[:12]}"


def task_key(
    config: dict[str, Any],
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_tests: list[np.ndarray],
    extra: dict[str, np.ndarray] | None = None,
) -> str:
    """SHA-256 of (configuration, data slice, the second stage's data, code version)."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    digest.update(code_version().encode())
    for arr in (x_train, y_train, *x_tests, *(v for _, v in sorted((extra or {}).items()))):
        digest.update(str(arr.shape).encode())
        digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()


class StepCache:
    """Finished chunks on disk: ``<key>.npz`` (probabilities) + ``<key>.json`` (timings)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def get(self, key: str, chunk: int) -> ChunkResult | None:
        meta_path = self.directory / f"{key}.json"
        data_path = self.directory / f"{key}.npz"
        if not (meta_path.exists() and data_path.exists()):
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            with np.load(data_path, allow_pickle=False) as arrays:
                probas = tuple(np.asarray(arrays[f"arr_{i}"]) for i in range(int(meta["n_steps"])))
                raws = None
                if meta.get("calibrator") is not None:
                    raws = tuple(np.asarray(arrays[f"raw_{i}"]) for i in range(int(meta["n_steps"])))
        except (OSError, ValueError, KeyError):
            return None  # a damaged entry is recomputed, never trusted
        return ChunkResult(
            chunk,
            probas,
            float(meta["fit_seconds"]),
            tuple(meta["predict_seconds"]),
            cached=True,
            model_info=meta.get("model"),
            raw_probas=raws,
            calibrator=meta.get("calibrator"),
        )

    def put(self, key: str, result: ChunkResult) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        data_tmp = self.directory / f".{key}.{os.getpid()}.npz"
        meta_tmp = self.directory / f".{key}.{os.getpid()}.json"
        raws = {f"raw_{i}": raw for i, raw in enumerate(result.raw_probas or ())}
        np.savez(data_tmp, *result.probas, **raws)  # type: ignore[arg-type]  # numpy stub: allow_pickle kw
        meta = {
            "n_steps": len(result.probas),
            "fit_seconds": result.fit_seconds,
            "predict_seconds": list(result.predict_seconds),
            "model": result.model_info,
            "calibrator": result.calibrator,
        }
        meta_tmp.write_text(json.dumps(meta), encoding="utf-8")
        # data first, then the meta file that makes the entry visible: a crash leaves no half entry
        os.replace(data_tmp, self.directory / f"{key}.npz")
        os.replace(meta_tmp, self.directory / f"{key}.json")
