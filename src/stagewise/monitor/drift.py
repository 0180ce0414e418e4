"""Per-feature drift of a current sample against a reference sample, with sample-size-aware thresholds.

Numeric features get three methods: PSI on reference-quantile bins (:mod:`stagewise.monitor.psi`),
the two-sample Kolmogorov–Smirnov test (``scipy.stats.ks_2samp``) and the Wasserstein distance
(``scipy.stats.wasserstein_distance``), also divided by the reference's robust spread so it is unit
free. Categorical features (strings, categories, booleans) get PSI on categories and the chi-square
test of homogeneity.

A method flags a feature only when **both** hold:

* its test is significant at the per-method level, so noise of the given sample sizes cannot flag
  (PSI's null depends on ``n`` and the bins; KS's p-value does too); and
* its effect size reaches a floor (``psi_min``, ``distance_min``, ``wasserstein_min``), so that very
  large samples do not flag shifts too small to matter.

Levels: the two tests of a feature share its level by Bonferroni (each at ``level / 2``), so a
feature is a false alarm with probability at most its level; across features the level is ``alpha``
corrected by ``correction`` (Bonferroni: a report on undrifted data flags anything with probability
at most ``alpha``; BH controls the expected share of false alarms instead; ``none``: each feature
at ``alpha``). The Wasserstein verdict uses the KS test for significance and adds its own floor.
See ``docs/drift.md`` for the derivations and the measured false-alarm rates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from stagewise._exceptions import ConfigError, DataValidationError, UnsupportedFormatError
from stagewise.monitor._drift_methods import (
    NullCache,
    SampleColumn,
    categorical_methods,
    numeric_methods,
    plan_draws,
)
from stagewise.monitor._drift_result import FeatureDrift, MethodResult, severity_of

__all__ = ["DriftConfig", "DriftReport", "FeatureDrift", "MethodResult", "detect_drift"]

Correction = Literal["bonferroni", "bh", "none"]
_SEVERITY_ORDER = ("none", "minor", "moderate", "major")


@dataclass(frozen=True)
class DriftConfig:
    """Thresholds and calibration of :func:`detect_drift`; validated on construction.

    Parameters
    ----------
    bins : int
        Reference-quantile bins for PSI on numeric features (>= 2).
    correction : {"bonferroni", "bh", "none"}
        Multiple-testing correction across features.
    psi_min, psi_major : float
        PSI floor to flag (conventional 0.1) and the PSI from which a drift is "major" (0.25).
    distance_min : float
        Floor of the KS statistic (numeric) or total variation distance (categorical), in [0, 1].
    wasserstein_min : float
        Floor of the Wasserstein distance divided by the reference's robust spread.
    monte_carlo_draws : int
        Minimum number of null draws when PSI or chi-square is calibrated by Monte Carlo.
    random_state : int
        Seed of the Monte Carlo draws, so the same data always gives the same report.

    Examples
    --------
    >>> DriftConfig(bins=5, correction="bh").bins
    5
    """

    bins: int = 10
    correction: Correction = "bonferroni"
    psi_min: float = 0.1
    psi_major: float = 0.25
    distance_min: float = 0.1
    wasserstein_min: float = 0.1
    monte_carlo_draws: int = 4000
    random_state: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.bins, bool) or not isinstance(self.bins, int) or self.bins < 2:
            raise ConfigError(f"The 'bins' parameter of DriftConfig must be an int >= 2. Got {self.bins!r}.")
        if self.correction not in ("bonferroni", "bh", "none"):
            raise ConfigError(
                "The 'correction' parameter of DriftConfig must be one of 'bonferroni', 'bh', 'none'. "
                f"Got {self.correction!r}."
            )
        for name in ("psi_min", "psi_major", "wasserstein_min"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ConfigError(
                    f"The '{name}' parameter of DriftConfig must be a finite number >= 0. Got {value!r}."
                )
        if self.psi_major < self.psi_min:
            raise ConfigError(
                f"The 'psi_major' parameter of DriftConfig must be >= psi_min ({self.psi_min!r}). "
                f"Got {self.psi_major!r}."
            )
        if not isinstance(self.distance_min, int | float) or not 0 <= self.distance_min <= 1:
            raise ConfigError(
                f"The 'distance_min' parameter of DriftConfig must be a number in [0, 1]. "
                f"Got {self.distance_min!r}."
            )
        draws = self.monte_carlo_draws
        if isinstance(draws, bool) or not isinstance(draws, int) or draws < 100:
            raise ConfigError(
                f"The 'monte_carlo_draws' parameter of DriftConfig must be an int >= 100. Got {draws!r}."
            )


@dataclass(frozen=True)
class DriftReport:
    """Drift of each feature of a current sample against a reference sample.

    Attributes
    ----------
    features : dict[str, FeatureDrift]
        One result per feature, in the order they were checked.
    alpha : float
        The false-alarm level asked for; ``correction`` says how it was shared across features.
    skipped : dict[str, str]
        Columns not checked (only when ``features`` was not given) and why.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"x": rng.normal(size=500)})
    >>> cur = pd.DataFrame({"x": rng.normal(1.0, size=500)})
    >>> report = detect_drift(ref, cur)
    >>> report.drifted_features
    ['x']
    >>> report.features["x"].severity
    'major'
    """

    features: dict[str, FeatureDrift]
    alpha: float
    correction: str
    n_reference: int
    n_current: int
    skipped: dict[str, str] = field(default_factory=dict)

    FORMAT_VERSION: ClassVar[int] = 1
    """Version of :meth:`to_dict`'s layout; bump it when a key changes meaning and keep a reader."""

    @property
    def drifted_features(self) -> list[str]:
        """Names of the features that drifted, in report order."""
        return [name for name, result in self.features.items() if result.drifted]

    @property
    def drifted(self) -> bool:
        """True when at least one feature drifted."""
        return any(result.drifted for result in self.features.values())

    @property
    def severity(self) -> str:
        """The worst feature severity: ``none``, ``minor``, ``moderate`` or ``major``."""
        worst = max((_SEVERITY_ORDER.index(r.severity) for r in self.features.values()), default=0)
        return _SEVERITY_ORDER[worst]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (floats, strings, bools, ``None``) with ``format_version``."""
        return {
            "format_version": self.FORMAT_VERSION,
            "alpha": self.alpha,
            "correction": self.correction,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "drifted": self.drifted,
            "severity": self.severity,
            "drifted_features": self.drifted_features,
            "skipped": dict(self.skipped),
            "features": {name: result.to_dict() for name, result in self.features.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftReport:
        """Rebuild a report written by :meth:`to_dict` (format version 1)."""
        version = data.get("format_version")
        if version != cls.FORMAT_VERSION:
            raise UnsupportedFormatError(
                f"The 'format_version' of a drift report must be {cls.FORMAT_VERSION}. Got {version!r}."
            )
        return cls(
            features={name: FeatureDrift.from_dict(item) for name, item in data["features"].items()},
            alpha=float(data["alpha"]),
            correction=str(data["correction"]),
            n_reference=int(data["n_reference"]),
            n_current=int(data["n_current"]),
            skipped={str(k): str(v) for k, v in data.get("skipped", {}).items()},
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per feature: kind, sizes, p-value, each method's effect and threshold, verdict.

        A method's column holds its ``effect`` (PSI, KS D, normalised Wasserstein, total variation),
        the value its ``<method>_threshold`` column is compared with.
        """
        rows = []
        for name, result in self.features.items():
            row: dict[str, Any] = {
                "feature": name,
                "kind": result.kind,
                "n_reference": result.n_reference,
                "n_current": result.n_current,
                "p_value": result.p_value,
            }
            for method, outcome in result.methods.items():
                row[method] = outcome.effect
                row[f"{method}_threshold"] = outcome.threshold
            row["drifted"] = result.drifted
            row["severity"] = result.severity
            rows.append(row)
        return pd.DataFrame(rows)


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str] | None = None,
    *,
    alpha: float = 0.01,
    config: DriftConfig | None = None,
) -> DriftReport:
    """Test each feature of ``current`` for drift against ``reference``.

    Parameters
    ----------
    reference, current : pandas.DataFrame
        The reference window (e.g. the training data or last month) and the recent window.
    features : list of str, optional
        Columns to check. By default every numeric, boolean, string or categorical column of
        ``reference``; other columns (dates, ...) are listed in :attr:`DriftReport.skipped`.
    alpha : float
        False-alarm level in (0, 1): with the default Bonferroni correction, a report on two
        samples of the same distribution flags any feature with probability at most ``alpha``.
    config : DriftConfig, optional
        Bins, effect-size floors, correction and Monte Carlo settings.

    Raises
    ------
    DataValidationError
        A feature is missing from a sample, a sample has no rows, a feature is all missing or
        holds infinities, or its type differs between the samples.
    ConfigError
        ``alpha`` or ``features`` is not valid.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> ref = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(["A1", "B1"], 300)})
    >>> cur = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(["A1", "B1"], 300)})
    >>> detect_drift(ref, cur).drifted
    False
    """
    cfg = config if config is not None else DriftConfig()
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ConfigError(f"The 'alpha' parameter of detect_drift must be a number in (0, 1). Got {alpha!r}.")
    for name, frame in (("reference", reference), ("current", current)):
        if not isinstance(frame, pd.DataFrame):
            raise DataValidationError(
                f"The '{name}' sample must be a pandas DataFrame. Got {type(frame).__name__}."
            )
        if len(frame) == 0:
            raise DataValidationError(f"The '{name}' sample is empty (0 rows); drift needs rows in both.")
    names, skipped = _choose_features(reference, current, features)
    columns = [_prepare(name, reference[name], current[name]) for name in names]

    # The smallest per-test level any correction can reach sets the Monte Carlo resolution.
    smallest_level = alpha / 2.0 if cfg.correction == "none" else alpha / (2.0 * len(columns))
    draws = plan_draws(cfg.monte_carlo_draws, smallest_level)
    rng = np.random.default_rng(cfg.random_state)
    cache: NullCache = {}
    raw = [
        numeric_methods(col, cfg, draws, rng, cache)
        if col.kind == "numeric"
        else categorical_methods(col, draws, rng)
        for col in columns
    ]
    feature_p = [min(1.0, 2.0 * min(m.p_value for m in methods if m.own_test)) for methods in raw]
    levels = _feature_levels(feature_p, alpha, cfg.correction)

    results: dict[str, FeatureDrift] = {}
    for col, methods, p_value, level in zip(columns, raw, feature_p, levels, strict=True):
        decided = {m.method: m.decide(level / 2.0, cfg) for m in methods}
        drifted = any(m.drifted for m in decided.values())
        results[col.name] = FeatureDrift(
            name=col.name,
            kind=col.kind,
            n_reference=len(col.reference),
            n_current=len(col.current),
            missing_reference=col.missing_reference,
            missing_current=col.missing_current,
            p_value=p_value,
            level=level,
            methods=decided,
            drifted=drifted,
            severity=severity_of(drifted, decided["psi"].statistic, cfg.psi_min, cfg.psi_major),
        )
    return DriftReport(
        features=results,
        alpha=float(alpha),
        correction=cfg.correction,
        n_reference=len(reference),
        n_current=len(current),
        skipped=skipped,
    )


def _feature_levels(p_values: list[float], alpha: float, correction: Correction) -> list[float]:
    """The level each feature is tested at, after the correction across features."""
    m = len(p_values)
    if m == 0 or correction == "none":
        return [alpha] * m
    if correction == "bonferroni":
        return [alpha / m] * m
    # Benjamini–Hochberg: reject every p <= alpha * k / m for the largest k with p_(k) <= alpha * k / m.
    ordered = sorted(p_values)
    k = max((i for i, p in enumerate(ordered, start=1) if p <= alpha * i / m), default=1)
    return [alpha * k / m] * m


def _kind(series: pd.Series) -> str | None:
    if pd.api.types.is_bool_dtype(series.dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(series.dtype):
        return "numeric"
    if (
        isinstance(series.dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(series.dtype)
        or series.dtype == object
    ):
        return "categorical"
    return None


def _choose_features(
    reference: pd.DataFrame, current: pd.DataFrame, features: Sequence[str] | None
) -> tuple[list[str], dict[str, str]]:
    skipped: dict[str, str] = {}
    if features is None:
        names = []
        for name in reference.columns:
            if _kind(reference[name]) is None:
                skipped[str(name)] = f"dtype {reference[name].dtype} is neither numeric nor categorical"
            else:
                names.append(name)
    else:
        if isinstance(features, str):
            raise ConfigError(
                f"The 'features' parameter must be a list of column names. Got the string {features!r}."
            )
        names = list(features)
        if not names:
            raise ConfigError("The 'features' parameter must name at least one column. Got an empty list.")
        duplicates = sorted({str(n) for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"The 'features' parameter names a column twice: {duplicates}.")
    if not names:
        raise DataValidationError(
            f"The reference sample has no numeric, boolean, string or categorical column to check "
            f"(columns: {skipped})."
        )
    for name in names:
        for label, frame in (("reference", reference), ("current", current)):
            if name not in frame.columns:
                raise DataValidationError(
                    f"Feature {name!r} is missing from the {label} sample. "
                    f"Its columns are: {sorted(map(str, frame.columns))}."
                )
    return [str(n) for n in names], skipped


def _prepare(name: str, reference: pd.Series, current: pd.Series) -> SampleColumn:
    kinds = (_kind(reference), _kind(current))
    if None in kinds:
        bad = reference if kinds[0] is None else current
        raise DataValidationError(
            f"Feature {name!r} has dtype {bad.dtype}; drift is computed for numeric, boolean, string "
            "or categorical columns."
        )
    if kinds[0] != kinds[1]:
        raise DataValidationError(
            f"Feature {name!r} is {kinds[0]} ({reference.dtype}) in the reference sample but "
            f"{kinds[1]} ({current.dtype}) in the current sample; both must be the same kind."
        )
    values = []
    for label, series in (("reference", reference), ("current", current)):
        present = series[series.notna()]
        if len(present) == 0:
            raise DataValidationError(
                f"Feature {name!r} is missing (NaN) in all {len(series)} rows of the {label} sample."
            )
        if kinds[0] == "numeric":
            array = present.to_numpy(dtype=np.float64)
            if not np.isfinite(array).all():
                raise DataValidationError(
                    f"Feature {name!r} holds infinite values in the {label} sample; "
                    "drift accepts finite numbers or NaN (missing)."
                )
            values.append(array)
        else:
            values.append(present.astype(str).to_numpy(dtype=object))
    return SampleColumn(
        name=name,
        kind=str(kinds[0]),
        reference=values[0],
        current=values[1],
        missing_reference=float(reference.isna().mean()),
        missing_current=float(current.isna().mean()),
    )
