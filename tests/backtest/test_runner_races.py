from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from backtest_setup import SEED_WINDOWS, SMALL_MODEL

from stagewise import ConfigError
from stagewise.backtest import WalkForwardBacktest, read_results
from stagewise.metrics.races import NON_FINISH_RULE


@pytest.fixture(scope="module")
def seed_run(
    small_races: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("seed_run")
    bt = WalkForwardBacktest(
        "races", data=small_races, n_workers=1, model_params=SMALL_MODEL, n_resamples=200
    )
    return bt.run_walkforward(**SEED_WINDOWS, output_dir=out), out


def test_seed_call_gives_six_steps_and_the_seed_keys(seed_run: tuple[dict[str, Any], Path]) -> None:
    result, _ = seed_run
    summary = result["summary"]
    assert summary["total_steps"] == 6 == len(result["steps"])
    assert summary["total_races"] == sum(s["num_races"] for s in result["steps"]) > 0
    for key in ("overall_hit_rate_1st", "overall_hit_rate_top3", "overall_score_accuracy"):
        assert 0.0 <= summary[key] <= 1.0
    assert set(summary["step_stats"]) == {"avg_hit_rate_1st", "avg_hit_rate_top3", "avg_score_accuracy"}
    assert result["steps"][0]["test_start"] == "2025-11-01"
    assert result["steps"][-1]["partial"]
    assert result["steps"][-1]["test_end"] == "2025-11-17"


def test_model_beats_random_and_reports_baselines_and_oracle(seed_run: tuple[dict[str, Any], Path]) -> None:
    result, _ = seed_run
    assert set(result["baselines"]) == {"random", "lane_order", "oracle"}
    assert result["summary"]["overall_hit_rate_1st"] > result["baselines"]["random"]["hit_rate_1st"] + 0.2
    share = result["oracle_share"]["hit_rate_1st"]
    assert share["low"] <= share["share"] <= share["high"]
    assert result["guard"]["findings"] == []
    assert result["non_finishers"]["rule"] == NON_FINISH_RULE


def test_reports_are_written_and_readable(seed_run: tuple[dict[str, Any], Path]) -> None:
    result, out = seed_run
    data = read_results(out / "walkforward_results.json")
    assert data["format_version"] == 1
    assert data["summary"]["total_steps"] == 6
    json.loads((out / "walkforward_results.json").read_text(encoding="utf-8"))  # strict JSON, no NaN
    text = (out / "walkforward_report.txt").read_text(encoding="utf-8")
    assert "Total steps: 6" in text
    assert f"Races evaluated: {result['summary']['total_races']}" in text
    assert "[Overall]" in text
    assert "[Step averages]" in text
    html = (out / "walkforward_report.html").read_text(encoding="utf-8")
    assert "Fold timeline" in html
    assert "hit_rate_1st per step" in html
    assert "<script src=" not in html  # the JavaScript is inline: opens offline


def test_metrics_recomputed_from_the_predictions_parquet_with_plain_pandas(
    seed_run: tuple[dict[str, Any], Path],
) -> None:
    result, out = seed_run
    p = pd.read_parquet(out / "walkforward_predictions.parquet")
    races = p.groupby(["step", "race_id"])
    winner = races.apply(lambda r: (r.finish_position == 1).any(), include_groups=False)
    top = (
        p[p.predicted_rank <= 3].sort_values("predicted_rank").groupby(["step", "race_id"])["finish_position"]
    )
    hit_1st = races.apply(
        lambda r: (r.loc[r.predicted_rank == 1, "finish_position"].fillna(0) == 1).any(), include_groups=False
    )
    hit_top3 = top.apply(lambda f: list(f.fillna(0)) == [1, 2, 3])

    def accuracy(r: pd.DataFrame) -> float:
        started = r[~r.status.isin(["F", "L", "欠"])]
        actual = started.finish_position.astype("float").fillna(7).rank()
        return (started.predicted_rank.rank().corr(actual) + 1) / 2

    acc = races.apply(accuracy, include_groups=False)
    overall = result["summary"]["overall"]
    assert overall["hit_rate_1st"] == pytest.approx(hit_1st[winner].mean())
    assert overall["hit_rate_top3"] == pytest.approx(hit_top3[winner].mean())
    assert overall["avg_score_accuracy"] == pytest.approx(acc[winner].mean())
    assert overall["n_scored"] == int(winner.sum())


def test_japanese_report_uses_the_seed_labels(small_races: pd.DataFrame, tmp_path: Path) -> None:
    bt = WalkForwardBacktest(
        "races", data=small_races, n_workers=1, model_params=SMALL_MODEL, lang="ja", html=False
    )
    result = bt.run_walkforward(**SEED_WINDOWS, output_dir=tmp_path)
    text = (tmp_path / "walkforward_report.txt").read_text(encoding="utf-8")
    assert "総ステップ数: 6" in text
    assert f"総評価レース数: {result['summary']['total_races']}" in text
    for label in (
        "【全体統計】",
        "1着的中率:",
        "3連単的中率:",
        "平均スコア精度:",
        "【ステップ平均】",
        "平均1着的中率:",
    ):
        assert label in text
    assert not (tmp_path / "walkforward_report.html").exists()


def test_restarted_run_skips_finished_steps(small_races: pd.DataFrame, tmp_path: Path) -> None:
    bt = WalkForwardBacktest("races", data=small_races, n_workers=1, model_params=SMALL_MODEL, html=False)

    def crash_after_two(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bt.run_walkforward(**SEED_WINDOWS, output_dir=tmp_path, progress=crash_after_two)
    resumed = bt.run_walkforward(**SEED_WINDOWS, output_dir=tmp_path)
    assert (resumed["timing"]["n_fits"], resumed["timing"]["n_cached"]) == (4, 2)
    again = bt.run_walkforward(**SEED_WINDOWS, output_dir=tmp_path)
    assert (again["timing"]["n_fits"], again["timing"]["n_cached"]) == (0, 6)
    assert again["summary"]["overall"] == resumed["summary"]["overall"]
    other = {**SMALL_MODEL, "random_state": 1}
    bt_other = WalkForwardBacktest("races", data=small_races, n_workers=1, model_params=other, html=False)
    changed = bt_other.run_walkforward(**SEED_WINDOWS, output_dir=tmp_path)
    assert changed["timing"]["n_fits"] == 6  # another configuration is another cache key


def test_refit_every_two_steps_fits_half_as_often(small_races: pd.DataFrame, tmp_path: Path) -> None:
    bt = WalkForwardBacktest(
        "races", data=small_races, n_workers=1, model_params=SMALL_MODEL, refit_every=2, html=False
    )
    result = bt.run_walkforward(**SEED_WINDOWS, output_dir=tmp_path)
    assert result["timing"]["n_fits"] == 3
    assert [s["refit"] for s in result["steps"]] == [True, False] * 3


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"end_date": "2025-10-30"}, "'end_date' parameter must not be before start_date"),
        ({"train_days": 0}, "The 'train_days' parameter must be an int >= 1. Got 0 instead."),
        ({"train_days": 30}, "starts 2025-10-02, before the data"),
        (
            {"end_date": "2025-12-31"},
            "'end_date' parameter must not be after the data's last day (2025-11-17)",
        ),
    ],
    ids=["end-before-start", "train-days-0", "window-larger-than-data", "end-after-data"],
)
def test_bad_input_fails_before_any_fit(
    small_races: pd.DataFrame, tmp_path: Path, override: dict[str, Any], message: str
) -> None:
    bt = WalkForwardBacktest("races", data=small_races, n_workers=1, model_params=SMALL_MODEL)
    with pytest.raises(ConfigError) as info:
        bt.run_walkforward(**{**SEED_WINDOWS, **override}, output_dir=tmp_path)
    assert message in str(info.value)
    assert not any(tmp_path.iterdir())


def test_a_date_range_without_races_is_an_error(small_races: pd.DataFrame, tmp_path: Path) -> None:
    gap = small_races[(small_races.race_date < "2025-11-05") | (small_races.race_date > "2025-11-10")]
    bt = WalkForwardBacktest("races", data=gap, n_workers=1)
    with pytest.raises(ConfigError, match="no races to evaluate between 2025-11-06 and 2025-11-09"):
        bt.run_walkforward("2025-11-06", "2025-11-09", 14, 3, 3, tmp_path)


def test_no_data_tells_how_to_make_some(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no data/races.parquet here, which would be read by default
    with pytest.raises(ConfigError, match=r"stagewise data simulate --start .* --output data/races\.parquet"):
        WalkForwardBacktest("races").run_walkforward(**SEED_WINDOWS, output_dir=tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"domain": "horses"}, "The 'domain' parameter must be one of ['races', 'markets']. Got 'horses'"),
        ({"refit_every": 0}, "The 'refit_every' parameter must be an int >= 1. Got 0"),
        ({"n_workers": 64}, "times model_threads (1) must be at most"),
        ({"window": "sliding"}, "The 'window' parameter must be one of"),
        ({"lang": "fr"}, "The 'lang' parameter must be one of ['en', 'ja']"),
        ({"places": "lane"}, "The 'places' parameter must be one of ['model', 'win_order']. Got 'lane'"),
    ],
    ids=["domain", "refit", "oversubscribed", "window", "lang", "places"],
)
def test_bad_settings(kwargs: dict[str, Any], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        WalkForwardBacktest(**kwargs).run_walkforward(**SEED_WINDOWS, output_dir=tmp_path)
    assert message in str(info.value)


def test_place_model_reorders_only_the_minor_places(
    seed_run: tuple[dict[str, Any], Path], small_races: pd.DataFrame, tmp_path: Path
) -> None:
    result, out = seed_run
    bt = WalkForwardBacktest(
        "races", data=small_races, n_workers=1, model_params=SMALL_MODEL, n_resamples=200, places="win_order"
    )
    plain = bt.run_walkforward(**SEED_WINDOWS, output_dir=tmp_path)
    assert (result["config"]["places"], plain["config"]["places"]) == ("model", "win_order")
    with_places = pd.read_parquet(out / "walkforward_predictions.parquet")
    by_win = pd.read_parquet(tmp_path / "walkforward_predictions.parquet")
    assert with_places["place_score"].between(0, 1).all()
    assert by_win["place_score"].isna().all()
    # the same win model: same winner picks, same win probabilities, same win metrics
    key = ["race_id", "pit"]
    merged = with_places.merge(by_win, on=key, suffixes=("", "_plain"))
    assert len(merged) == len(with_places) == len(by_win)
    assert (merged["win_prob"] == merged["win_prob_plain"]).all()
    assert ((merged["predicted_rank"] == 1) == (merged["predicted_rank_plain"] == 1)).all()
    for metric in ("hit_rate_1st", "log_loss"):
        assert result["summary"]["overall"][metric] == plain["summary"]["overall"][metric]
    # ... and the minor places do move
    assert (merged["predicted_rank"] != merged["predicted_rank_plain"]).any()


def test_json_has_no_nan_and_keeps_intervals(seed_run: tuple[dict[str, Any], Path]) -> None:
    _, out = seed_run
    data = read_results(out / "walkforward_results.json")
    overall = data["summary"]["overall"]
    low, high = overall["hit_rate_1st_ci"]
    assert low < overall["hit_rate_1st"] < high
    step = data["steps"][0]
    expected = {"train_start", "train_end", "test_start", "test_end", "n_train_rows", "metrics", "baselines"}
    assert expected | {"fit_seconds", "predict_seconds"} <= set(step)


def test_results_of_an_unknown_format_version_are_refused(
    seed_run: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    from stagewise import UnsupportedFormatError

    _, out = seed_run
    data = json.loads((out / "walkforward_results.json").read_text(encoding="utf-8"))
    data["format_version"] = 99
    (tmp_path / "future.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(UnsupportedFormatError, match="format_version 99; this release reads version 1"):
        read_results(tmp_path / "future.json")
