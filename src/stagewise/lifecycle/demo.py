"""The whole lifecycle on embedded defaults: the seed's integrated workflow, end to end.

simulate → train a champion and a challenger → walk-forward backtest both → register them →
roll the challenger out at 10 % → replay live days (route, log, settle, stats, alerts, the
controller each morning) → the same with a degraded challenger that the controller must roll
back, notifying a local webhook → one HTML page over everything written.

The story is told once (:mod:`stagewise.lifecycle.story`); ``domain`` picks its scenario:
simulated races (:mod:`~stagewise.lifecycle.races_demo`) or the bundled EURUSD hourly bars
(:mod:`~stagewise.lifecycle.markets_demo`).
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from stagewise._domain import Domain
from stagewise._exceptions import ConfigError
from stagewise.lifecycle.markets_demo import MarketsScenario
from stagewise.lifecycle.progress import DemoProgress, TextProgress
from stagewise.lifecycle.races_demo import (
    CHALLENGER_WEIGHTS,
    DEMO_MODEL,
    HEALTH_WINDOW_DAYS,
    REFERENCE_DAYS,
    TRAIN_DAYS,
    RacesScenario,
)
from stagewise.lifecycle.scenario import Scenario
from stagewise.lifecycle.story import STEPS, DemoResult, tell
from stagewise.lifecycle.workdir import discard_workdir, prepare_workdir

if TYPE_CHECKING:
    from stagewise.models.ensemble import EnsembleParams

__all__ = [
    "CHALLENGER_WEIGHTS",
    "DEFAULT_DAYS",
    "DEMO_MODEL",
    "DOMAINS",
    "HEALTH_WINDOW_DAYS",
    "REFERENCE_DAYS",
    "STEPS",
    "TRAIN_DAYS",
    "DemoResult",
    "run_demo",
]

#: One scenario per domain the demo tells its story for.
SCENARIOS: dict[Domain, Scenario[Any]] = {Domain.RACES: RacesScenario(), Domain.MARKETS: MarketsScenario()}
DOMAINS = tuple(domain.value for domain in SCENARIOS)
#: Live days replayed per challenger when ``days`` is not given, by domain (markets: calendar days;
#: 8 weeks are about 40 trading days).
DEFAULT_DAYS = {domain.value: scenario.default_days for domain, scenario in SCENARIOS.items()}


def _check(
    domain: object, days: object, seed: object, model_params: object
) -> tuple[Scenario[Any], EnsembleParams | None]:
    if not isinstance(domain, str) or domain not in SCENARIOS:
        raise ConfigError(f"The 'domain' option must be one of {list(DOMAINS)}. Got {domain!r}.")
    if isinstance(days, bool) or not isinstance(days, int) or not 7 <= days <= 120:
        raise ConfigError(f"The 'days' option must be an int in [7, 120]. Got {days!r}.")
    scenario = SCENARIOS[Domain(domain)]
    scenario.check_days(days)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"The 'seed' option must be an int >= 0. Got {seed!r}.")
    if model_params is not None and not isinstance(model_params, dict):
        raise ConfigError(
            f"'model_params' must be a dict of ProductionEnsemble arguments. Got {model_params!r}."
        )
    # a dict of the ensemble's arguments: the ensemble checks each one when it is built and fitted
    return scenario, cast("EnsembleParams | None", model_params)


def run_demo(
    workdir: str | Path = "stagewise-demo",
    domain: str = "races",
    days: int | None = None,
    seed: int = 0,
    progress: DemoProgress | None = None,
    *,
    webhook_port: int = 0,
    model_params: dict[str, Any] | None = None,
) -> DemoResult:
    """Run the lifecycle in ``workdir``: ``days`` live days for a good challenger, then for a degraded one.

    ``days`` defaults to :data:`DEFAULT_DAYS` of the domain (21 race days; 56 calendar days of
    EURUSD bars, the 10 % stage alone needs about five weeks of bars). ``workdir`` must be new
    (or empty): the demo never overwrites an earlier run. ``progress``
    receives the narrative and the progress bars (default: plain lines on stdout).
    ``model_params`` replaces :data:`DEMO_MODEL` (e.g. tiny ensembles in tests). The webhook
    receiver listens on 127.0.0.1:``webhook_port`` (0: any free port).

    Examples
    --------
    >>> # Not run as a doctest (+SKIP): a real run trains and backtests for about 30 s;
    >>> # tests/lifecycle runs the same call.
    >>> import tempfile
    >>> tiny = {k: {"n_estimators": 5} for k in ("lgbm_params", "xgb_params", "rf_params")}
    >>> result = run_demo(tempfile.mkdtemp(), days=7, progress=TextProgress(lambda _: None),
    ...                   model_params=tiny)  # doctest: +SKIP
    >>> result.report.name  # doctest: +SKIP
    'index.html'
    """
    from stagewise.lifecycle.webhook_receiver import WebhookReceiver

    if days is None:  # an unknown domain is refused by _check; the default only has to not fail first
        days = DEFAULT_DAYS.get(domain if isinstance(domain, str) else "races", DEFAULT_DAYS["races"])
    scenario, params = _check(domain, days, seed, model_params)
    say = progress or TextProgress()
    started = time.perf_counter()
    root = Path(workdir)
    secret = secrets.token_hex(16)
    result = DemoResult(
        workdir=root,
        domain=domain,
        seed=seed,
        days=days,
        report=root / "report" / "index.html",
        summary_path=root / "report" / "demo_summary.json",
    )
    # The port is taken before anything is written: a port in use stores nothing.
    existed = root.exists()
    with WebhookReceiver(webhook_port, secret=secret) as receiver:
        prepare_workdir(root)
        try:
            tell(scenario, result, say, params, receiver, secret, started)
        except BaseException:
            discard_workdir(root, existed=existed)  # a failed or interrupted run never blocks a retry
            raise
    return result
