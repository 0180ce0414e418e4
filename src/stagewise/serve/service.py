"""What the routes do: score a race or a bar, log it, record results, report readiness.

:class:`PredictionService` holds one process's models, router, logging queue and metrics;
the FastAPI routes in :mod:`stagewise.serve.app` only translate HTTP to these calls.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from stagewise._exceptions import ConfigError, DataValidationError, StagewiseError
from stagewise.features.sets import FeatureSet
from stagewise.features.technical import FEATURE_NAMES
from stagewise.monitor.records import BoatScore, LedgerRecord, RacePrediction, SignalPrediction
from stagewise.rollout.gradual import CONTROL_VARIANT, ENABLED_VARIANT
from stagewise.rollout.integrity import ManualEdit
from stagewise.serve.features import builtin_race_matrix, request_frame, uses_builtin_race_features
from stagewise.serve.identity import RaceIdentities, RaceIdentity
from stagewise.serve.logging_queue import LedgerQueue, LedgerSink, MonitorSink
from stagewise.serve.metrics import ServeMetrics
from stagewise.serve.routing import LoadedModel, ModelSet, ModelWatcher, RaceRouter
from stagewise.serve.schemas import (
    BoatPrediction,
    MarketPredictRequest,
    MarketPredictResponse,
    ModelAnswer,
    RacePredictRequest,
    RacePredictResponse,
    ResultsRequest,
    ResultsResponse,
)
from stagewise.serve.settings import ServeSettings
from stagewise.serve.variants import check_variant_models, variant_of_role, variant_role

if TYPE_CHECKING:
    from stagewise.monitor import PerformanceMonitor
    from stagewise.rollout import GradualRollout

__all__ = ["VARIANTS", "ModelUnavailableError", "PredictionService", "rank_one_race"]

#: Ledger variant of each role: the labels of ``GradualRollout.variant``, which the rollout controller reads.
VARIANTS = {"champion": CONTROL_VARIANT, "challenger": ENABLED_VARIANT, "market": CONTROL_VARIANT}
SHADOW_VARIANT = "shadow"
_LOG = logging.getLogger("stagewise.serve")
DATABASE_UNREACHABLE = "database unreachable"
"""What unauthenticated answers say about a ledger outage (details go to the log and ``/admin/status``)."""


class ModelUnavailableError(StagewiseError):
    """No model can answer this request (not loaded, or refused at load); the server answers 503."""


def rank_one_race(scores: np.ndarray, pits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(order, win_prob)`` of one race: pits by descending score (ties to the lower pit), and
    scores normalised to sum 1 (equal shares when every score is 0), as :func:`rank_races` does.

    Examples
    --------
    >>> order, prob = rank_one_race(np.array([0.2, 0.6, 0.2]), np.array([1, 2, 3]))
    >>> order.tolist(), prob.tolist()
    ([1, 0, 2], [0.2, 0.6, 0.2])
    """
    order = np.lexsort((pits, -scores))
    total = float(scores.sum())
    win_prob = scores / total if total > 0 else np.full(len(scores), 1.0 / len(scores))
    return order, win_prob


def _race_order(
    model: LoadedModel, X: np.ndarray | pd.DataFrame, scores: np.ndarray, pits: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Order and win probabilities; a race model's place model orders places 2-6, as in the backtest."""
    order, win_prob = rank_one_race(scores, pits)
    if model.place is not None:
        order = model.place.place_order(np.asarray(X, dtype=np.float64), pits, scores)
    return order, win_prob


def _checked_or_none(
    model: LoadedModel, features: np.ndarray | pd.DataFrame
) -> np.ndarray | pd.DataFrame | None:
    """The shadow model's checked input, or None (no shadow score) when the race breaks its signature."""
    try:
        checked = model.check(features)
    except DataValidationError as exc:
        _LOG.warning("shadow %s skipped for this race: %s", model.version, exc)
        return None
    return checked


_ROLE_OF_GROUP = {CONTROL_VARIANT: "champion", ENABLED_VARIANT: "challenger"}
"""The model role of each ledger group without a split; a split's variant ``v`` is ``variant:v``."""


def _answer_role(role: str) -> str:
    """The role a response names: ``variant`` for any variant's model."""
    return "variant" if variant_of_role(role) is not None else role


def _pick_probability(scores: np.ndarray, win_prob: np.ndarray, pits: np.ndarray) -> float:
    """The win probability a model gives its own top pick (highest score, ties to the lower pit, as
    :func:`rank_one_race`): the covariate every logged row of a race carries, from the champion."""
    return float(win_prob[int(np.lexsort((pits, -scores))[0])])


class PredictionService:
    """One server process's models, routing, ledger queue and metrics."""

    def __init__(
        self,
        settings: ServeSettings,
        *,
        sink: LedgerSink[LedgerRecord] | None = None,
        rollout: GradualRollout | None = None,
        metrics: ServeMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or ServeMetrics()
        if rollout is None:
            from stagewise.rollout import GradualRollout

            rollout = GradualRollout(
                settings.rollout_config, refresh_interval=settings.reload_interval_s, actor="api"
            )
        self.rollout = rollout
        self.router = RaceRouter(rollout, settings.feature)
        # A/B/n: the mapping must name exactly the split's variants (refused here, before any model loads)
        check_variant_models(settings.feature, self.router.split(), settings.variants)
        variant_refs = {variant_role(name): ref for name, ref in settings.variants.items()}
        self.watcher = ModelWatcher(
            settings.models_dir,
            {
                "champion": settings.champion_ref,
                "challenger": settings.challenger_ref,
                "market": settings.market_ref,
                **variant_refs,
            },
            domains={
                "champion": "races",
                "challenger": "races",
                "market": "markets",
                **dict.fromkeys(variant_refs, "races"),
            },
            reload_interval_s=settings.reload_interval_s,
            on_reload=self._on_reload,
        )
        self.sink: LedgerSink[LedgerRecord] = sink if sink is not None else MonitorSink(settings.db_url)
        self.identities = RaceIdentities(self._stored_identities)
        self._inline: tuple[ModelSet, bool] | None = None
        self.database_error: str | None = None  # the last ping's error, with details (admin routes only)
        self.queue: LedgerQueue[LedgerRecord] = LedgerQueue(
            self.sink,
            queue_max=settings.queue_max,
            batch_size=settings.batch_size,
            flush_interval_s=settings.flush_interval_s,
            retry_max_backoff_s=settings.retry_max_backoff_s,
            metrics=self.metrics,
        )
        self._results_monitor: PerformanceMonitor | None = None
        self._served_labels: set[tuple[str, str]] = set()
        loaded = self.watcher.load()
        for name, ref in settings.variants.items():
            error = loaded.errors.get(variant_role(name))
            if error is not None:
                raise ConfigError(
                    f"--variant {name}={ref}: the model of variant {name!r} cannot load: {error}"
                )

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self.queue.start()

    def close(self) -> int:
        """Drain the ledger queue (up to ``drain_timeout_s``); return rows not written."""
        lost = self.queue.close(self.settings.drain_timeout_s)
        for closable in (self.sink, self._results_monitor, self.rollout):
            close = getattr(closable, "close", None)
            if close is not None:
                close()
        return lost

    def _on_reload(self, models: ModelSet, outcome: str) -> None:
        # set versions no longer served to 0 rather than clear(): in multi-process mode the value
        # lives in a shared file that clear() would not reset
        served = {(role, m.version) for role, m in models.models.items()}
        for role, version in self._served_labels - served:
            self.metrics.model_loaded.labels(role=role, version=version).set(0)
        for role, version in served:
            self.metrics.model_loaded.labels(role=role, version=version).set(1)
        for role, m in models.models.items():
            fast = 1 if m.path == "fast" else 0
            self.metrics.model_path.labels(role=role, version=m.version, flavour=m.flavour).set(fast)
        self._served_labels = served
        self.metrics.reloads.labels(outcome="error" if models.errors else outcome).inc()
        self.metrics.record_load_errors(models.errors)

    # -- races -----------------------------------------------------------------------------------
    def race_rows(self, req: RacePredictRequest, feature_set: FeatureSet | None) -> pd.DataFrame:
        """The race's feature rows, computed by the model's recorded feature set (as in training)."""
        return (feature_set or FeatureSet.races()).compute(request_frame(req))

    def _score(self, model: LoadedModel, X: np.ndarray | pd.DataFrame, variant: str) -> np.ndarray:
        started = time.perf_counter()
        proba = np.asarray(model.scorer.predict_proba(X), dtype=np.float64)
        self.metrics.model_latency.labels(
            domain="races", model_version=model.version, variant=variant
        ).observe(time.perf_counter() - started)
        return proba[:, 1]

    def predict_race(self, req: RacePredictRequest) -> RacePredictResponse:
        """Answer one race (from any thread): check its identity, score, queue the ledger rows."""
        # a race_id the ledger holds with another date/venue/number would be refused after the answer
        self.identities.check(req.race_id, (req.race_date, req.venue_code, req.race_number))
        return self._answer_race(req)

    async def predict_race_async(self, req: RacePredictRequest) -> RacePredictResponse:
        """:meth:`predict_race` on the event loop: the identity lookup is batched with other requests'
        and runs in a worker thread; scoring runs on the loop when every race model is compiled and
        uses the built-in features (tens of microseconds: a thread hop would cost more), else in the
        thread pool."""
        await self.identities.check_async(req.race_id, (req.race_date, req.venue_code, req.race_number))
        if self._scores_inline(self.watcher.current):
            return self._answer_race(req)
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(self._answer_race, req)

    def _scores_inline(self, models: ModelSet) -> bool:
        cached = self._inline
        if cached is not None and cached[0] is models:
            return cached[1]
        inline = all(
            m.path == "fast"
            and m.place is None
            and uses_builtin_race_features(m.feature_set, m.feature_names)
            for role, m in models.models.items()
            if role != "market"
        )
        self._inline = (models, inline)
        return inline

    def _answer_race(self, req: RacePredictRequest) -> RacePredictResponse:
        models = self.watcher.current
        group = self.router.group(req.race_id)  # exactly GradualRollout.variant(feature, race_id)
        wanted = _ROLE_OF_GROUP.get(group) or variant_role(group)
        # a role with no model (not loaded, or not mapped since a config reload) falls back to the champion,
        # logged as control: the ledger records who answered, and /readyz says why
        role = wanted if models.get(wanted) is not None else "champion"
        answering = models.get(role)
        if answering is None:
            raise ModelUnavailableError(
                f"no champion model is loaded from {self.settings.models_dir} "
                f"(ref {self.settings.champion_ref!r}): {models.errors.get('champion', 'not configured')}"
            )
        pits = np.array([e.pit for e in req.entries], dtype=np.int64)
        rows: dict[FeatureSet | None, np.ndarray | pd.DataFrame] = {}

        def features(model: LoadedModel) -> np.ndarray | pd.DataFrame:
            if model.feature_set not in rows:
                rows[model.feature_set] = (
                    builtin_race_matrix(req)  # the built-in features straight to a matrix: no DataFrame
                    if uses_builtin_race_features(model.feature_set, model.feature_names)
                    else self.race_rows(req, model.feature_set)
                )
            return rows[model.feature_set]

        X = answering.check(features(answering))  # a SignatureError is a 422 before anything is logged
        variant = group if role == wanted else CONTROL_VARIANT
        scores = self._score(answering, X, variant)
        order, win_prob = _race_order(answering, X, scores, pits)
        self.metrics.predictions.labels(
            domain="races", model_version=answering.version, variant=variant, mode="answered"
        ).inc()
        shadow: tuple[LoadedModel, np.ndarray, np.ndarray, np.ndarray] | None = None
        if self.settings.shadow:
            other = models.get("challenger" if role == "champion" else "champion")
            other_X = _checked_or_none(other, features(other)) if other is not None else None
            if other is not None and other_X is not None and other.version != answering.version:
                other_scores = self._score(other, other_X, SHADOW_VARIANT)
                other_order, other_prob = _race_order(other, other_X, other_scores, pits)
                self.metrics.predictions.labels(
                    domain="races", model_version=other.version, variant=SHADOW_VARIANT, mode="shadow"
                ).inc()
                shadow = (other, other_scores, other_prob, other_order)
        # the covariate: the champion's probability of its own top pick, from the champion's scores of
        # this race (already computed when it answered or shadowed; else one champion scoring)
        champion = models.get("champion")
        if role == "champion":
            covariate: float | None = _pick_probability(scores, win_prob, pits)
        elif shadow is not None and shadow[0] is champion:
            covariate = _pick_probability(shadow[1], shadow[2], pits)
        else:
            covariate = None if champion is None else self._champion_covariate(champion, features, pits)
        enabled = role != "champion"
        logged = self._log_race(req, answering, variant, pits, scores, win_prob, order, enabled, covariate)
        shadow_answer = None
        if shadow is not None:
            other, other_scores, other_prob, other_order = shadow
            self._log_race(
                req, other, SHADOW_VARIANT, pits, other_scores, other_prob, other_order, enabled, covariate
            )
            shadow_answer = ModelAnswer(
                role=_answer_role(other.role), version=other.version, variant=SHADOW_VARIANT
            )
        # model_construct: every value is ours and of the declared type; validating it again is wasted work
        pit_list, score_list, prob_list = pits.tolist(), scores.tolist(), win_prob.tolist()
        boats = [
            BoatPrediction.model_construct(
                pit=pit_list[i], predicted_rank=rank, score=score_list[i], win_prob=prob_list[i]
            )
            for rank, i in enumerate(order.tolist(), start=1)
        ]
        return RacePredictResponse.model_construct(
            race_id=req.race_id,
            predicted_order=[b.pit for b in boats],
            boats=boats,
            model=ModelAnswer(role=_answer_role(role), version=answering.version, variant=variant),
            shadow=shadow_answer,
            logged=logged,
        )

    def _log_race(
        self,
        req: RacePredictRequest,
        model: LoadedModel,
        variant: str,
        pits: np.ndarray,
        scores: np.ndarray,
        win_prob: np.ndarray,
        order: np.ndarray,
        enabled: bool,
        covariate: float | None,
    ) -> bool:
        pit_list, score_list, prob_list = pits.tolist(), scores.tolist(), win_prob.tolist()
        ranked = order.tolist()
        # the bet this model's pick implies, at the odds the client read
        odds = None if req.win_odds is None else req.win_odds[pit_list[ranked[0]] - 1]
        record = RacePrediction(
            race_id=req.race_id,
            race_date=req.race_date,
            venue_code=req.venue_code,
            race_number=req.race_number,
            boats=tuple(BoatScore(pit_list[i], score_list[i], prob_list[i]) for i in ranked),
            model_version=model.version,
            variant=variant,
            feature_flags={self.settings.feature: enabled},
            odds=odds,
            stake=req.stake if odds is not None else None,
            rollout_feature=self.settings.feature,
            covariate=covariate,
        )
        return self.queue.submit("race", record)

    def _champion_covariate(
        self,
        champion: LoadedModel,
        features: Callable[[LoadedModel], np.ndarray | pd.DataFrame],
        pits: np.ndarray,
    ) -> float | None:
        """The champion's probability of its top pick when another model answered (None: the race breaks
        the champion's signature, so it has no opinion to adjust by)."""
        checked = _checked_or_none(champion, features(champion))
        if checked is None:
            return None
        scores = np.asarray(champion.scorer.predict_proba(checked), dtype=np.float64)[:, 1]
        _, win_prob = rank_one_race(scores, pits)
        return _pick_probability(scores, win_prob, pits)

    # -- markets ---------------------------------------------------------------------------------
    def predict_market(self, req: MarketPredictRequest) -> MarketPredictResponse:
        model = self.watcher.current.get("market")
        if model is None:
            reason = self.watcher.current.errors.get("market", "no market_ref configured")
            raise ModelUnavailableError(f"no market model is loaded: {reason}")
        X: np.ndarray | pd.DataFrame
        if req.features is not None:
            assert req.timestamp is not None  # checked by the schema
            X = np.array([[req.features[n] for n in FEATURE_NAMES]], dtype=np.float64)
            timestamp = req.timestamp
        else:
            X, timestamp = self._bar_features(req, model.feature_set)
        X = model.check(X)
        started = time.perf_counter()
        probability = float(np.asarray(model.scorer.predict_proba(X), dtype=np.float64)[0, 1])
        variant = VARIANTS["market"]
        self.metrics.model_latency.labels(
            domain="markets", model_version=model.version, variant=variant
        ).observe(time.perf_counter() - started)
        self.metrics.predictions.labels(
            domain="markets", model_version=model.version, variant=variant, mode="answered"
        ).inc()
        signal = int(probability > 0.5)
        logged = self.queue.submit(
            "signal",
            # the market model is the champion of its bars: its probability is the bar's covariate
            SignalPrediction(
                req.symbol,
                timestamp,
                signal,
                probability,
                model.version,
                variant,
                rollout_feature=self.settings.feature,
                covariate=probability,
            ),
        )
        return MarketPredictResponse(
            symbol=req.symbol,
            timestamp=timestamp,
            signal=signal,
            probability=probability,
            model=ModelAnswer(role="market", version=model.version, variant=variant),
            logged=logged,
        )

    def _bar_features(
        self, req: MarketPredictRequest, feature_set: FeatureSet | None
    ) -> tuple[pd.DataFrame, datetime]:
        from stagewise.data.markets import validate_bars
        from stagewise.features.technical import WARMUP_BARS

        assert req.bars is not None
        if len(req.bars) > self.settings.max_bars:
            raise DataValidationError(
                f"bars: at most {self.settings.max_bars} bars are accepted; got {len(req.bars)}."
            )
        if len(req.bars) <= WARMUP_BARS:
            raise DataValidationError(
                f"bars: the features need at least {WARMUP_BARS + 1} bars (warm-up {WARMUP_BARS}); "
                f"got {len(req.bars)}. Send more bars or the 12 ready 'features'."
            )
        frame = pd.DataFrame([b.model_dump() for b in req.bars])
        stamps = pd.to_datetime(frame.pop("timestamp"), utc=True).dt.tz_localize(None)
        frame.index = pd.DatetimeIndex(stamps, name="timestamp")
        bars = validate_bars(frame.astype("float64"), gaps="allow")
        features = (feature_set or FeatureSet.technical()).compute(bars)
        last = features.iloc[[-1]]
        values = last.to_numpy(dtype=np.float64, na_value=np.nan)
        if not np.isfinite(values).all():
            bad = [str(n) for n, v in zip(last.columns, values[0], strict=True) if not np.isfinite(v)]
            raise DataValidationError(f"bars: the last bar's features {bad} are not finite; check the bars.")
        return last, bars.index[-1].to_pydatetime()

    # -- results ---------------------------------------------------------------------------------
    def _stored_identities(self, race_ids: Sequence[str]) -> Mapping[str, RaceIdentity]:
        return self._monitor().race_identities(race_ids)

    def _monitor(self) -> PerformanceMonitor:
        if self._results_monitor is None:
            from stagewise.monitor import PerformanceMonitor

            self._results_monitor = PerformanceMonitor(self.settings.db_url)
        return self._results_monitor

    def record_result(self, req: ResultsRequest) -> ResultsResponse:
        # this process's predictions of the race may still be queued: write them first
        self.queue.flush(timeout=min(5.0, self.settings.drain_timeout_s))
        results = [
            {"pit_number": r.pit, "rank": r.rank}
            if r.status == "finished"
            else {"pit_number": r.pit, "status": r.status}
            for r in req.results
        ]
        summary = self._monitor().log_result(req.race_id, results, reason="POST /v1/results")
        return ResultsResponse(
            race_id=req.race_id, predictions_rescored=summary.rescored, changed=summary.unchanged == 0
        )

    # -- health ----------------------------------------------------------------------------------
    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """``(ready, report)``: champion loaded and verified, configured roles loaded, database up."""
        self.watcher.maybe_reload()
        models = self.watcher.current
        reasons: list[str] = []
        if models.get("champion") is None:
            reasons.append(f"champion not loaded: {models.errors.get('champion', 'not configured')}")
        stage = self.router.stage()
        split = self.router.split()
        if stage not in (None, "disabled") and split is not None:
            for name in split:  # the split may have changed since start-up (the config reloads)
                if models.get(variant_role(name)) is None:
                    why = models.errors.get(
                        variant_role(name), f"not mapped; restart with --variant {name}=REF"
                    )
                    reasons.append(
                        f"variant {name!r} of rollout feature {self.settings.feature!r} has no model: {why}; "
                        "its races are answered by the champion and logged as control"
                    )
        elif stage not in (None, "disabled") and models.get("challenger") is None:
            reasons.append(
                f"rollout feature {self.settings.feature!r} is at {stage} but no challenger is loaded: "
                f"{models.errors.get('challenger', 'challenger_ref is not set')}; if the challenger was "
                f"promoted, finish its rollout: `stagewise rollout complete {self.settings.feature} --ref "
                "production --reason '...'`"
            )
        warnings: list[str] = []
        edit = self._manual_edit()
        if edit is not None:
            # reported, not a reason to stop serving: an emergency hand edit must not become an outage
            warnings.append(
                f"{edit.describe(self.settings.rollout_config)}; the server routes by it, and rollout writes "
                "refuse it until one passes accept_manual_edit (CLI: --accept-manual-edit --reason)"
            )
        database = self._ping_database()
        if database is not None:
            # the error names the database user, host and port: log and admin routes only
            reasons.append(DATABASE_UNREACHABLE)
            if database != self.database_error:
                _LOG.error("ledger database unreachable: %s", database)
        self.database_error = database
        report: dict[str, Any] = {
            "ready": not reasons,
            "reasons": reasons,
            "warnings": warnings,
            "models": {
                role: {
                    "version": m.version,
                    "ref": m.ref,
                    "verified_files": m.verified_files,
                    "flavour": m.flavour,
                    "inference_path": m.path,
                    "inference_reason": m.path_reason,
                }
                for role, m in models.models.items()
            },
            "model_errors": dict(models.errors),
            "rollout": {
                "feature": self.settings.feature,
                "stage": stage,
                "shadow": self.settings.shadow,
                "variants": dict(self.settings.variants),
                "completed": self.router.completed(),
                "manual_edit": None if edit is None else edit.to_dict(),
            },
            "ledger_queue": self._queue_report(),
        }
        return not reasons, report

    def _manual_edit(self) -> ManualEdit | None:
        detect = getattr(self.rollout, "manual_edit", None)
        return None if detect is None else detect()

    def _queue_report(self) -> Mapping[str, Any]:
        s = self.queue.stats()
        return {
            "pending": s.pending,
            "written": s.written,
            "shed": s.shed,
            "rejected": s.rejected,
            # the error may name the database user, host and port: /admin/status shows it
            "last_error": None
            if self.queue.last_error is None
            else "ledger writes failing; see /admin/status",
        }

    def _ping_database(self) -> str | None:
        try:
            self._monitor().ping()
        except Exception as exc:
            return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        return None
