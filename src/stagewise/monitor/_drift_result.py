"""Result records of drift detection: one per method, one per feature (plain, JSON-ready)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["FeatureDrift", "MethodResult", "severity_of"]


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class MethodResult:
    """The outcome of one drift method on one feature.

    A method flags (``drifted``) when ``p_value <= level`` and ``effect >= min_effect``;
    ``threshold`` is the smallest ``effect`` that flags at these sample sizes (for PSI it is the
    larger of ``min_effect`` and the null quantile; for KS the larger of ``min_effect`` and the
    approximate critical value; otherwise ``min_effect``).

    Examples
    --------
    >>> r = MethodResult("psi", 0.3, 0.3, 0.001, 0.005, 0.1, 0.12, True, "chi_square")
    >>> r.to_dict()["drifted"]
    True
    """

    method: str
    statistic: float
    effect: float
    p_value: float | None
    level: float
    min_effect: float
    threshold: float
    drifted: bool
    calibration: str
    details: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "method": self.method,
            "statistic": self.statistic,
            "effect": self.effect,
            "p_value": self.p_value,
            "level": self.level,
            "min_effect": self.min_effect,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "calibration": self.calibration,
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MethodResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            method=str(data["method"]),
            statistic=float(data["statistic"]),
            effect=float(data["effect"]),
            p_value=_float_or_none(data["p_value"]),
            level=float(data["level"]),
            min_effect=float(data["min_effect"]),
            threshold=float(data["threshold"]),
            drifted=bool(data["drifted"]),
            calibration=str(data["calibration"]),
            details={str(k): float(v) for k, v in data.get("details", {}).items()},
        )


@dataclass(frozen=True)
class FeatureDrift:
    """Drift of one feature: sizes, missing shares, each method's result, the verdict.

    ``p_value`` is the feature's combined p-value (Bonferroni over its two tests) and ``level`` the
    level it was tested at after the correction across features. ``severity`` is ``none`` when the
    feature did not drift, otherwise ``minor`` / ``moderate`` / ``major`` by PSI below ``psi_min``,
    below ``psi_major``, or above.

    Examples
    --------
    >>> f = FeatureDrift("x", "numeric", 100, 100, 0.0, 0.0, 0.5, 0.01, {}, False, "none")
    >>> FeatureDrift.from_dict(f.to_dict()) == f
    True
    """

    name: str
    kind: str
    n_reference: int
    n_current: int
    missing_reference: float
    missing_current: float
    p_value: float
    level: float
    methods: dict[str, MethodResult]
    drifted: bool
    severity: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "name": self.name,
            "kind": self.kind,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "missing_reference": self.missing_reference,
            "missing_current": self.missing_current,
            "p_value": self.p_value,
            "level": self.level,
            "drifted": self.drifted,
            "severity": self.severity,
            "methods": {name: result.to_dict() for name, result in self.methods.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureDrift:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            n_reference=int(data["n_reference"]),
            n_current=int(data["n_current"]),
            missing_reference=float(data["missing_reference"]),
            missing_current=float(data["missing_current"]),
            p_value=float(data["p_value"]),
            level=float(data["level"]),
            methods={k: MethodResult.from_dict(v) for k, v in data["methods"].items()},
            drifted=bool(data["drifted"]),
            severity=str(data["severity"]),
        )


def severity_of(drifted: bool, psi: float, psi_min: float, psi_major: float) -> str:
    """``none`` unless drifted; then ``major`` from ``psi_major``, ``moderate`` from ``psi_min``, else
    ``minor``.

    Examples
    --------
    >>> [severity_of(True, p, 0.1, 0.25) for p in (0.05, 0.1, 0.3)]
    ['minor', 'moderate', 'major']
    """
    if not drifted:
        return "none"
    if psi >= psi_major:
        return "major"
    if psi >= psi_min:
        return "moderate"
    return "minor"
