"""What a domain brings to the demo's one story: a :class:`Scenario` and the values it hands over.

The story (:mod:`~stagewise.lifecycle.story`) is the same for every domain — data, train and
backtest, register, roll out at stages while days are replayed through the rollout and the
controller, roll back a degraded challenger, report. A scenario answers the domain's questions:
where the data comes from and how it splits, how a model is trained and backtested, what the
degraded challenger is, how a day is replayed and how it reads on a line and on the page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar

import pandas as pd

from stagewise._domain import Domain

if TYPE_CHECKING:
    from stagewise.models.ensemble import EnsembleParams, ProductionEnsemble
    from stagewise.models.registry import LoadedModel, ModelRegistry
    from stagewise.models.training import TrainingReport
    from stagewise.monitor import PerformanceMonitor
    from stagewise.notify import WebhookNotifier
    from stagewise.rollout import GradualRollout

__all__ = ["BacktestPlan", "DayRecord", "Deployment", "LiveData", "Scenario", "ServedModel"]

ServedModel: TypeAlias = "tuple[str, LoadedModel]"
"""``(version, model)`` of a registry alias, as the replays serve it."""


class DayRecord(Protocol):
    """What the story and the page read of any replayed day."""

    @property
    def day(self) -> str: ...
    @property
    def stage_before(self) -> str: ...
    @property
    def stage_after(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def reasons(self) -> tuple[str, ...]: ...
    @property
    def alerts(self) -> tuple[str, ...]: ...
    def as_dict(self) -> dict[str, Any]: ...


DayT = TypeVar("DayT", bound=DayRecord)


@dataclass(frozen=True, slots=True)
class LiveData:
    """The data of one run: the history models learn from and the two live periods replayed.

    ``summary`` is the line the story prints about it; ``first_live`` and ``last_live`` bound the
    live period (the monitor's report covers it).
    """

    history: pd.DataFrame
    good: pd.DataFrame
    degraded: pd.DataFrame
    first_live: date
    last_live: date
    summary: str


@dataclass(frozen=True, slots=True)
class BacktestPlan:
    """A walk-forward window over the history, and how many steps the progress bar counts."""

    start: pd.Timestamp
    end: pd.Timestamp
    train_days: int
    test_days: int
    step_days: int
    steps: int


@dataclass(slots=True)
class Deployment:
    """What the replays share: the registry, the rollout, the ledger, the webhook and the clock."""

    registry: ModelRegistry
    rollout: GradualRollout
    monitor: PerformanceMonitor
    notifier: WebhookNotifier
    now: list[datetime]

    def set_clock(self, moment: datetime) -> None:
        """Move the simulated time (the rollout and the ledger read it through ``now``)."""
        self.now[0] = moment

    def served(self, alias: str) -> ServedModel:
        """``(version, model)`` of a registry alias, loaded back (each file checked against its SHA-256)."""
        return self.registry.resolve(alias), self.registry.load(alias)


class Scenario(Protocol[DayT]):
    """A domain's part of the demo; ``DayT`` is the record of one replayed day."""

    domain: Domain
    #: Appended to the registry notes of both candidates (e.g. what they predict).
    register_note: str
    #: What a challenger serves, in the narrative: "race", "signal".
    unit: str
    #: Named health policy of the rollout (None: the default).
    health_policy: str | None
    default_days: int

    def check_days(self, days: int) -> None:
        """Refuse a ``days`` the domain's data cannot replay (a ``ConfigError``)."""

    def step_text(self, number: int, days: int, receiver_url: str) -> tuple[str, str]:
        """Title and why of story step ``number`` (1, 2, 4, 5 or 6)."""

    def load(self, root: Path, days: int, seed: int) -> LiveData:
        """Make or load the data, write it under ``root/data``, split it into history and live days."""

    def candidates(self, model_params: EnsembleParams | None) -> dict[str, EnsembleParams]:
        """Ensemble arguments of the ``champion`` and the ``challenger``."""

    def train(self, history: pd.DataFrame, params: EnsembleParams, seed: int) -> TrainingReport:
        """Fit one candidate on the history and score it on the held-out tail."""

    def model_info(self, report: TrainingReport, version: str, notes: str) -> dict[str, Any]:
        """The summary's entry for a registered model."""

    def training_note(self, name: str, report: TrainingReport) -> str:
        """The line printed for a trained candidate."""

    def backtest_plan(self, history: pd.DataFrame) -> BacktestPlan:
        """The walk-forward window over the history."""

    def backtest_entry(
        self, name: str, result: Mapping[str, Any], out_dir: Path
    ) -> tuple[str, dict[str, Any]]:
        """The line printed for a candidate's backtest and its entry in the summary."""

    def fit_degraded(self, history: pd.DataFrame, params: EnsembleParams, seed: int) -> ProductionEnsemble:
        """A real ensemble that is wrong on purpose."""

    def degraded_info(self) -> tuple[str, dict[str, Any]]:
        """Registry notes of the degraded model and its summary entry (without ``version``)."""

    def prepare_monitor(self, monitor: PerformanceMonitor, data: LiveData) -> None:
        """Store in the ledger what must be there before the first live day."""

    def days_in(self, frame: pd.DataFrame) -> int:
        """How many days ``frame`` holds (the replay's progress bar)."""

    def replay(
        self,
        frame: pd.DataFrame,
        feature: str,
        deployment: Deployment,
        models: tuple[ServedModel, ServedModel],
        on_day: Callable[[DayT], None],
        days_after_rollback: int | None,
    ) -> list[DayT]:
        """Replay ``frame`` day by day; ``models`` holds the champion's and the challenger's
        ``(version, model)``."""

    def day_line(self, day: DayT) -> str:
        """One line of narrative for a replayed day."""

    def not_rolled_back(self, outcomes: Sequence[DayT], days: int) -> list[str]:
        """Lines explaining why the degraded challenger survived (usually none)."""

    def write_monitor_report(
        self, monitor: PerformanceMonitor, data: LiveData, out_dir: Path
    ) -> dict[str, Path]:
        """The monitor's report over the live period; its files by kind."""

    def closing_notes(self, days: Sequence[str]) -> list[str]:
        """Lines printed after the index page, for what to try next."""

    def models_table(self, models: Mapping[str, Mapping[str, Any]]) -> str:
        """The page's table of registered models."""

    def backtests_table(self, backtests: Mapping[str, Mapping[str, Any]], base: Path) -> str:
        """The page's table of backtests."""

    def day_table(self, outcomes: Sequence[DayT]) -> str:
        """The page's table of one replayed rollout."""
