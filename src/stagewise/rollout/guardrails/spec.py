"""Declared guardrail metrics: what a policy file's ``guardrails:`` list may say (validated once).

Example policy entry (JSON, inside the health policy ``load_policy`` reads)::

    "guardrails": [
      {"name": "win", "metric": "win_hit", "covariate": "champion_p_pick"},
      {"name": "calibration", "metric": "brier", "tolerance": 0.005, "on_fail": "hold"},
      {"name": "margin", "metric": "my_pkg.metrics:margin", "harm": "decrease", "tau": 0.1,
       "dry_run": true}
    ]

A metric is a built-in name (:data:`~stagewise.rollout.guardrails.units.BUILTINS`) or a user
function by dotted path ``pkg.module:function``. An unknown built-in name or a function that cannot
be imported is *not* refused here: the judge reports it as insufficient and holds, so a policy
written for a newer version never promotes on evidence it cannot compute.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stagewise._exceptions import ConfigError
from stagewise.rollout.guardrails.units import BUILTINS, NOT_PER_UNIT, OUTCOME_COLUMNS

__all__ = [
    "AUTO_COVARIATE",
    "LEDGER_COVARIATE",
    "GuardrailMetric",
    "format_validation_error",
    "parse_guardrails",
]

AUTO_COVARIATE = "auto"
"""A metric's default ``covariate``: the ledger's own covariate column, when it is logged for every unit."""
LEDGER_COVARIATE = "covariate"
"""The ledger column a prediction's pre-outcome covariate is logged in (migration 0004; the server logs
the champion's probability of its own top pick there for every race, in both arms)."""

_FUNCTION = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


class GuardrailMetric(BaseModel):
    """One declared guardrail.

    Parameters
    ----------
    name : str
        Unique name in the decision record.
    metric : str
        A built-in (``win_hit``, ``trifecta_hit``, ``score_accuracy``, ``log_loss``, ``brier``,
        ``roi``, ``net_return``, ``error_rate``, ``latency``) or ``"pkg.module:function"``.
    harm : {"decrease", "increase"}, optional
        Which direction hurts. Built-ins know theirs; a user function must say.
    tolerance : float, default 0
        Harm smaller than this (in the metric's units) is accepted: the test asks whether the
        challenger is worse by *more* than the tolerance.
    min_sample : int, default 100
        Units each arm needs before the metric has a verdict (and before its test counts evidence).
    dry_run : bool, default False
        Computed and recorded, never part of the decision or of the family-wise α.
    on_fail : {"rollback", "hold"}, default "rollback"
        What significant harm on this metric does.
    covariate : str or None, default "auto"
        The CUPED covariate: a column logged at prediction time for every unit in both arms (e.g. the
        champion's predicted probability of its pick); never an outcome column. ``"auto"`` (the
        default) uses the ledger's ``covariate`` column when it is logged for every unit of both
        arms and adjusts nothing otherwise; a column name insists on that column (the record says
        when it is missing); ``None`` never adjusts.
    tau : float, optional
        The effect size (metric units) the test finds fastest; built-ins have a default, a user
        function must give one.

    Examples
    --------
    >>> GuardrailMetric(name="win", metric="win_hit").effective_harm
    'decrease'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    metric: str = Field(min_length=1)
    harm: Literal["decrease", "increase"] | None = None
    tolerance: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    min_sample: int = Field(default=100, ge=1)
    dry_run: bool = False
    on_fail: Literal["rollback", "hold"] = "rollback"
    covariate: str | None = Field(default=AUTO_COVARIATE, min_length=1)
    tau: float | None = Field(default=None, gt=0.0, allow_inf_nan=False)

    @property
    def is_function(self) -> bool:
        """Whether ``metric`` is a user function path (``pkg.module:function``)."""
        return ":" in self.metric

    @property
    def covariate_column(self) -> str | None:
        """The column CUPED reads: the declared one, the ledger's ``covariate`` for ``"auto"``, or None."""
        return LEDGER_COVARIATE if self.covariate == AUTO_COVARIATE else self.covariate

    @property
    def covariate_is_auto(self) -> bool:
        """Whether the covariate is the default: used when complete, silently skipped when not."""
        return self.covariate == AUTO_COVARIATE

    @property
    def effective_harm(self) -> Literal["decrease", "increase"]:
        """The declared direction of harm, else the built-in's (``decrease`` for an unknown name)."""
        if self.harm is not None:
            return self.harm
        builtin = BUILTINS.get(self.metric)
        return builtin.harm if builtin else "decrease"

    @property
    def effective_tau(self) -> float:
        """The declared τ, else the built-in's (0.05 for an unknown name)."""
        if self.tau is not None:
            return self.tau
        builtin = BUILTINS.get(self.metric)
        return builtin.tau if builtin else 0.05

    @model_validator(mode="after")
    def _rules(self) -> GuardrailMetric:
        if self.metric in NOT_PER_UNIT:
            raise ValueError(f"metric {self.metric!r} is refused: {NOT_PER_UNIT[self.metric]}")
        if self.is_function:
            if not _FUNCTION.match(self.metric):
                raise ValueError(
                    f"metric {self.metric!r} must be a built-in name or a dotted path 'pkg.module:function'"
                )
            if self.harm is None:
                raise ValueError(
                    f"'harm' ('decrease' or 'increase') is required for user function {self.metric!r}"
                )
            if self.tau is None:
                raise ValueError(
                    f"'tau' (the effect size, in the metric's units, to detect fastest) is required for "
                    f"user function {self.metric!r}"
                )
        if self.covariate is not None and not self.covariate_is_auto:
            read = BUILTINS[self.metric].columns if self.metric in BUILTINS else ()
            if self.covariate in OUTCOME_COLUMNS or self.covariate in read:
                raise ValueError(
                    f"'covariate' {self.covariate!r} is known only after the outcome; a CUPED covariate "
                    "must be logged at prediction time (e.g. the champion's predicted probability)"
                )
        return self


def format_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """Pydantic's errors as one line: ``prefix.field: rule (got value)``, joined by ``; ``."""
    parts = []
    for error in exc.errors():
        where = ".".join([prefix, *(str(p) for p in error["loc"])] if prefix else map(str, error["loc"]))
        message = error["msg"].removeprefix("Value error, ")
        got = error.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        parts.append(f"{where}: {message}{shown}" if where else message)
    return "; ".join(parts)


def parse_guardrails(entries: Sequence[object]) -> tuple[GuardrailMetric, ...]:
    """Validate a ``guardrails`` list; a bad entry is a one-line ``ConfigError`` naming field and rule.

    Examples
    --------
    >>> try:
    ...     parse_guardrails([{"name": "win", "metric": "win_hit", "tolerance": -1}])
    ... except ConfigError as exc:
    ...     print(exc)
    Invalid guardrails: 0.tolerance: Input should be greater than or equal to 0 (got -1)
    """
    metrics = []
    for index, entry in enumerate(entries):
        try:
            metrics.append(GuardrailMetric.model_validate(entry))
        except ValidationError as exc:
            raise ConfigError(f"Invalid guardrails: {format_validation_error(exc, str(index))}") from None
    check_unique(metrics)
    return tuple(metrics)


def check_unique(metrics: Sequence[GuardrailMetric]) -> None:
    """Refuse two guardrails with the same name (the decision record is keyed by it)."""
    seen: set[str] = set()
    for metric in metrics:
        if metric.name in seen:
            raise ConfigError(
                f"Invalid guardrails: name {metric.name!r} is used twice; names must be unique."
            )
        seen.add(metric.name)
