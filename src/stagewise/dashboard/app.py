"""The Streamlit dashboard; start it with ``stagewise dashboard`` (see ``docs/dashboard.md``).

This script only lays out what :mod:`stagewise.dashboard.data` reads through the library. It reads
its sources from the ``STAGEWISE_DASHBOARD_*`` environment variables the command sets. A missing
source is shown as a message in its section; the only write is a stage change, which goes
through ``GradualRollout.update_rollout_stage`` (audited, actor ``dashboard``) and needs a reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from stagewise._exceptions import StagewiseError
from stagewise.dashboard import charts
from stagewise.dashboard import data as dd
from stagewise.dashboard.decisions import decision_frames

if TYPE_CHECKING:
    from stagewise.rollout import GradualRollout


def _rate(value: Any) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1%}"


def _score(value: Any) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


_DAY = st.column_config.DateColumn(format="YYYY-MM-DD")
_SCI = st.column_config.NumberColumn(format="%.2e")


def _relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _problem(exc: StagewiseError) -> None:
    st.warning(f"{type(exc).__name__}: {exc}")


def _monitor_sections(settings: dd.DashboardSettings, days: int, ref_days: int, cur_days: int) -> None:
    st.header("Accuracy trend")
    try:
        monitor = dd.open_monitor(settings.db)
    except StagewiseError as exc:
        _problem(exc)
        return
    with monitor:
        last = dd.latest_race_date(monitor)
        if last is None:
            st.info(f"The ledger {settings.db!r} has no race predictions yet.")
            return
        trend = dd.accuracy_trend(monitor, days, last)
        today = trend.iloc[-1]
        st.caption(f"Last {days} days ending {last} (the newest race day in the ledger); 95 % intervals.")
        cols = st.columns(4)
        cols[0].metric("Races settled", int(today["total_races"]))
        cols[1].metric("Win hit rate (1着的中率)", _rate(today["hit_rate_1st"]))
        cols[2].metric("Trifecta hit rate (3連単的中率)", _rate(today["hit_rate_top3"]))
        cols[3].metric("Score accuracy (スコア精度)", _score(today["avg_score_accuracy"]))
        limits = dd.thresholds(monitor)
        for metric in dd.TREND_METRICS:
            st.plotly_chart(charts.trend_figure(trend, metric, limits.get(metric)), key=f"trend_{metric}")
        st.dataframe(trend, hide_index=True, key="trend_table", column_config={"date": _DAY})

        st.header("Alerts")
        open_alerts, history = dd.alert_tables(monitor)
        st.metric("Open alerts", len(open_alerts))
        st.subheader("Open (firing)")
        st.dataframe(open_alerts, hide_index=True, key="alerts_open")
        st.subheader("History (firing and resolved)")
        st.dataframe(history, hide_index=True, key="alerts_history")

        st.header("Drift per feature")
        try:
            drift = dd.drift_frame(monitor, ref_days, cur_days, last)
        except StagewiseError as exc:
            _problem(exc)
        else:
            st.caption(f"Last {cur_days} days against the {ref_days} days before them.")
            st.metric("Drifted features", int(drift["drifted"].sum()) if len(drift) else 0)
            st.dataframe(drift, hide_index=True, key="drift_table", column_config={"p_value": _SCI})


def _rollout_section(settings: dd.DashboardSettings) -> None:
    st.header("Rollout stages")
    try:
        rollout = dd.open_rollout(settings.config)
    except StagewiseError as exc:
        _problem(exc)
        return
    with rollout:
        stages = dd.rollout_frame(rollout)
        with st.form("stage_change"):
            st.write("Change a stage (recorded in the audit log as actor `dashboard`; a reason is required).")
            feature = st.selectbox("Feature", list(stages["feature"]), key="sc_feature")
            stage = st.text_input("New stage (disabled, 10%, 50%, 100%, 12.5% ...)", key="sc_stage")
            reason = st.text_input("Reason", key="sc_reason")
            submitted = st.form_submit_button("Change stage")
        if submitted:
            try:
                info = dd.change_stage(rollout, str(feature), stage, reason)
            except StagewiseError as exc:
                st.error(f"Refused: {type(exc).__name__}: {exc}")
            else:
                st.success(f"{feature} is now at {info['stage']}.")
            stages = dd.rollout_frame(rollout)
        st.dataframe(stages, hide_index=True, key="rollout_stages")
        report = dd.verify_audit(rollout)
        if report.ok:
            st.badge(f"Audit chain verified ({report.entries} entries)", icon=":material/verified:",
                     color="green")  # fmt: skip
        else:
            st.badge("Audit chain BROKEN", icon=":material/error:", color="red")
            for problem in report.problems:
                st.error(problem)
        for note in report.notes:
            st.caption(note)
        st.subheader("Stage history (audit log)")
        st.dataframe(dd.audit_frame(rollout), hide_index=True, key="rollout_audit")
        _decisions_section(rollout)


def _decisions_section(rollout: GradualRollout) -> None:
    st.header("Decisions")
    decisions, metrics = decision_frames(rollout)
    if decisions.empty:
        st.info(
            "No controller decisions recorded yet (`stagewise rollout auto FEATURE`; dry runs are not "
            "recorded)."
        )
        return
    st.caption(
        "The controller's latest applied decisions, newest first (`stagewise rollout decisions FEATURE`); "
        "an A/B/n run records one per variant."
    )
    st.dataframe(decisions, hide_index=True, key="rollout_decisions")
    st.subheader("Per metric (challenger − control; always-valid interval and p-value)")
    st.dataframe(metrics, hide_index=True, key="rollout_decision_metrics")


def _backtest_section(settings: dd.DashboardSettings) -> None:
    st.header("Backtest")
    try:
        paths = dd.find_backtests(settings.backtest_dir)
        root = Path(settings.backtest_dir)
        path = st.selectbox("Result", paths, format_func=lambda p: _relative(p, root), key="bt_path")
        result = dd.load_backtest(path)
    except StagewiseError as exc:
        _problem(exc)
        return
    summary = dd.backtest_summary(result)
    cols = st.columns(4)
    cols[0].metric("Steps", summary.get("total_steps"))
    if result.get("domain", "races") == "races":
        cols[1].metric("Overall win hit rate", _rate(summary.get("overall_hit_rate_1st")))
        cols[2].metric("Overall trifecta hit rate", _rate(summary.get("overall_hit_rate_top3")))
        cols[3].metric("Overall score accuracy", _score(summary.get("overall_score_accuracy")))
    steps = dd.backtest_steps(result)
    st.plotly_chart(charts.backtest_figure(steps, {m: m for m in ("hit_rate_1st", "hit_rate_top3",
                    "avg_score_accuracy", "accuracy", "f1")}), key="bt_chart")  # fmt: skip
    st.dataframe(steps, hide_index=True, key="bt_steps")


def _registry_section(settings: dd.DashboardSettings) -> None:
    st.header("Model registry")
    try:
        registry = dd.open_registry(settings.models)
    except StagewiseError as exc:
        _problem(exc)
        return
    versions = dd.registry_frame(registry)
    bad = int((~versions["hash_verified"]).sum()) if len(versions) else 0
    if bad:
        st.badge(f"{bad} version(s) FAILED the hash check", icon=":material/error:", color="red")
    else:
        st.badge(f"All {len(versions)} version(s) hash-verified", icon=":material/verified:",
                 color="green")  # fmt: skip
    st.write(
        "Aliases: " + (", ".join(f"`{a}` → {v}" for a, v in sorted(registry.aliases().items())) or "none")
    )
    st.dataframe(versions, hide_index=True, key="registry_versions")


def _guarded(section: Callable[..., None], *args: Any) -> None:
    # A failure the library did not anticipate (a corrupt file it reads raw, a driver error) stays
    # inside its section as one line, so the other sections still render.
    try:
        section(*args)
    except StagewiseError as exc:
        _problem(exc)
    except Exception as exc:  # shown, not swallowed: the page only reads
        st.error(f"Unexpected error in this section: {type(exc).__name__}: {exc}")


def main() -> None:
    """Lay out every section; each one shows its own problem instead of stopping the page."""
    st.set_page_config(page_title="stagewise dashboard", layout="wide")
    settings = dd.DashboardSettings.from_env()
    st.title("stagewise dashboard")
    with st.sidebar:
        st.subheader("Sources")
        st.caption(f"ledger: {settings.db}\n\nrollout: {settings.config}\n\n"
                   f"models: {settings.models}\n\nbacktests: {settings.backtest_dir}")  # fmt: skip
        days = int(st.number_input("Trend days", min_value=1, max_value=365, value=30, key="days"))
        ref_days = int(st.number_input("Drift reference days", min_value=1, value=28, key="ref_days"))
        cur_days = int(st.number_input("Drift current days", min_value=1, value=7, key="cur_days"))
        if st.button("Refresh", key="refresh"):
            st.rerun()
    _guarded(_monitor_sections, settings, days, ref_days, cur_days)
    _guarded(_rollout_section, settings)
    _guarded(_backtest_section, settings)
    _guarded(_registry_section, settings)


main()
