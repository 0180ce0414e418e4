from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from stagewise import ConfigError, DataValidationError, UnsupportedFormatError
from stagewise.monitor.drift import DriftConfig, DriftReport, detect_drift

UNGATED = {"psi_min": 0.0, "distance_min": 0.0, "wasserstein_min": 0.0}


def _normal_frames(n: int, columns: int, seed: int, shift: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    names = [f"x{i}" for i in range(columns)]
    reference = pd.DataFrame(rng.normal(size=(n, columns)), columns=names)
    current = pd.DataFrame(rng.normal(loc=shift, size=(n, columns)), columns=names)
    return reference, current


def _max_false_alarms(trials: int, rate: float) -> int:
    """A count of false alarms that a calibrated detector exceeds with probability below 1e-4."""
    return int(stats.binom.ppf(1 - 1e-4, trials, rate))


# Each column is an independent replicate, so one call checks many same-distribution pairs at once.
@pytest.mark.parametrize(
    ("n", "columns"), [(50, 200), (500, 200), (50_000, 8)], ids=["n50", "n500", "n50000"]
)
def test_same_distribution_false_alarm_rate_is_at_most_alpha(n: int, columns: int) -> None:
    reference, current = _normal_frames(n, columns, seed=n)
    report = detect_drift(reference, current, alpha=0.01, config=DriftConfig(correction="none"))
    assert len(report.drifted_features) <= _max_false_alarms(columns, 0.01)


@pytest.mark.parametrize("n", [50, 500], ids=["n50", "n500"])
@pytest.mark.parametrize("tied", [False, True], ids=["continuous", "rounded"])
def test_calibration_without_effect_floors_is_at_most_alpha_and_not_degenerate(n: int, tied: bool) -> None:
    # With the effect floors off only the null calibration stops false alarms: this fails if it is wrong.
    reference, current = _normal_frames(n, 200, seed=7 + n)
    if tied:
        reference, current = reference.round(1), current.round(1)
    report = detect_drift(reference, current, alpha=0.05, config=DriftConfig(correction="none", **UNGATED))
    alarms = len(report.drifted_features)
    assert alarms <= _max_false_alarms(200, 0.05)
    psi_p = np.array([f.methods["psi"].p_value for f in report.features.values()])
    # Each test runs at alpha / 2; a useless (never-firing) calibration would give almost no small p-values.
    assert np.mean(psi_p <= 0.025) >= stats.binom.ppf(1e-4, 200, 0.025) / 200
    assert np.mean(psi_p <= 0.025) <= _max_false_alarms(200, 0.025) / 200


def test_bonferroni_report_on_same_distribution_rarely_flags_anything() -> None:
    reports_with_alarm = 0
    for seed in range(60):
        reference, current = _normal_frames(50, 4, seed=1000 + seed)
        reports_with_alarm += detect_drift(
            reference, current, alpha=0.05, config=DriftConfig(**UNGATED)
        ).drifted
    assert reports_with_alarm <= _max_false_alarms(60, 0.05)


def test_a_real_shift_is_flagged_by_every_method() -> None:
    reference, current = _normal_frames(500, 1, seed=3, shift=0.8)
    feature = detect_drift(reference, current).features["x0"]
    assert feature.drifted
    assert {name for name, m in feature.methods.items() if m.drifted} == {"psi", "ks", "wasserstein"}
    assert feature.severity == "major"
    assert feature.methods["wasserstein"].effect == pytest.approx(0.8, abs=0.15)


def test_a_change_of_spread_is_flagged() -> None:
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"x": rng.normal(size=2000)})
    current = pd.DataFrame({"x": rng.normal(scale=2.0, size=2000)})
    assert detect_drift(reference, current).drifted_features == ["x"]


def test_a_tiny_shift_at_small_n_is_not_flagged() -> None:
    reference, current = _normal_frames(50, 1, seed=5, shift=0.1)
    report = detect_drift(reference, current)
    assert not report.drifted
    assert report.severity == "none"


def test_a_trivial_shift_at_huge_n_is_significant_but_not_flagged() -> None:
    reference, current = _normal_frames(200_000, 1, seed=6, shift=0.03)
    feature = detect_drift(reference, current).features["x0"]
    assert feature.methods["ks"].p_value is not None
    assert feature.methods["ks"].p_value < 1e-6  # the test sees it ...
    assert not feature.drifted  # ... but the effect floors say it does not matter
    assert feature.methods["psi"].threshold == pytest.approx(0.1)


def test_the_psi_threshold_grows_as_samples_shrink() -> None:
    thresholds = []
    for n in (50, 200, 1000, 20_000):
        reference, current = _normal_frames(n, 1, seed=n)
        thresholds.append(detect_drift(reference, current).features["x0"].methods["psi"].threshold)
    assert thresholds == sorted(thresholds, reverse=True)
    assert thresholds[0] > 0.25
    assert thresholds[-1] == pytest.approx(0.1)


def _classes(rng: np.random.Generator, n: int, shares: list[float]) -> pd.Series:
    return pd.Series(rng.choice(["A1", "A2", "B1", "B2"], size=n, p=shares), dtype="string")


@pytest.mark.parametrize("n", [60, 5000], ids=["permutation", "chi-square"])
def test_categorical_racer_class_shift_is_flagged(n: int) -> None:
    rng = np.random.default_rng(8)
    reference = pd.DataFrame({"racer_class": _classes(rng, n, [0.2, 0.2, 0.5, 0.1])})
    current = pd.DataFrame({"racer_class": _classes(rng, n, [0.6, 0.2, 0.1, 0.1])})
    feature = detect_drift(reference, current).features["racer_class"]
    assert feature.kind == "categorical"
    assert feature.drifted
    assert set(feature.methods) == {"psi", "chi_square"}
    assert feature.methods["chi_square"].effect == pytest.approx(0.4, abs=0.2)  # total variation


def test_categorical_same_shares_are_not_flagged_and_a_new_category_is() -> None:
    rng = np.random.default_rng(9)
    shares = [0.2, 0.3, 0.4, 0.1]
    reference = pd.DataFrame({"c": _classes(rng, 3000, shares)})
    current = pd.DataFrame({"c": _classes(rng, 3000, shares)})
    assert not detect_drift(reference, current).drifted
    current.loc[:599, "c"] = "X"  # a class the reference never saw
    assert detect_drift(reference, current).features["c"].severity == "major"


def test_booleans_are_categorical_and_missing_values_are_counted_not_compared() -> None:
    rng = np.random.default_rng(10)
    x = rng.normal(size=400)
    x[:100] = np.nan
    reference = pd.DataFrame({"flag": rng.random(400) < 0.5, "x": x})
    current = pd.DataFrame({"flag": rng.random(400) < 0.5, "x": rng.normal(size=400)})
    report = detect_drift(reference, current)
    assert report.features["flag"].kind == "categorical"
    assert report.features["x"].n_reference == 300
    assert report.features["x"].missing_reference == pytest.approx(0.25)


def test_default_features_skip_dates_and_say_so() -> None:
    reference, current = _normal_frames(100, 1, seed=11)
    reference["race_date"] = pd.Timestamp("2024-01-01")
    current["race_date"] = pd.Timestamp("2024-02-01")
    report = detect_drift(reference, current)
    assert list(report.features) == ["x0"]
    assert "race_date" in report.skipped


def test_a_frame_with_nothing_to_check_is_refused() -> None:
    dates = pd.DataFrame({"race_date": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    with pytest.raises(DataValidationError, match="no numeric, boolean, string or categorical column"):
        detect_drift(dates, dates)


def test_report_is_json_ready_and_round_trips() -> None:
    rng = np.random.default_rng(12)
    reference = pd.DataFrame({"x": rng.normal(size=300), "c": _classes(rng, 300, [0.25] * 4)})
    current = pd.DataFrame({"x": rng.normal(0.5, size=300), "c": _classes(rng, 300, [0.25] * 4)})
    report = detect_drift(reference, current, config=DriftConfig(correction="bh"))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["format_version"] == 1
    assert data["drifted_features"] == ["x"]
    assert DriftReport.from_dict(data) == report
    assert list(report.to_frame()["feature"]) == ["x", "c"]
    with pytest.raises(UnsupportedFormatError, match="format_version"):
        DriftReport.from_dict({**data, "format_version": 99})


def test_same_data_gives_the_same_report() -> None:
    reference, current = _normal_frames(80, 3, seed=13, shift=0.2)
    assert detect_drift(reference, current) == detect_drift(reference, current)


def test_bh_is_never_stricter_than_bonferroni() -> None:
    reference, current = _normal_frames(300, 10, seed=14)
    current.iloc[:, :4] += 0.35
    bonferroni = detect_drift(reference, current)
    bh = detect_drift(reference, current, config=DriftConfig(correction="bh"))
    assert set(bonferroni.drifted_features) <= set(bh.drifted_features)
    assert bh.features["x0"].level >= bonferroni.features["x0"].level


@given(
    a=st.floats(0.01, 100.0),
    b=st.floats(-1000.0, 1000.0),
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(5, 120),
)
@settings(max_examples=40, deadline=None)
def test_results_do_not_depend_on_units(a: float, b: float, seed: int, n: int) -> None:
    # PSI and KS use ranks only and Wasserstein is divided by the reference's spread, so a change of
    # units (x -> a x + b) must not change any verdict.
    rng = np.random.default_rng(seed)
    reference = pd.DataFrame({"x": rng.normal(size=n)})
    current = pd.DataFrame({"x": rng.normal(0.3, size=n)})
    plain = detect_drift(reference, current).features["x"]
    scaled = detect_drift(reference * a + b, current * a + b).features["x"]
    assert scaled.drifted == plain.drifted
    for name in ("psi", "ks", "wasserstein"):
        assert scaled.methods[name].effect == pytest.approx(plain.methods[name].effect, rel=1e-6, abs=1e-9)
    assert scaled.methods["psi"].p_value == pytest.approx(plain.methods["psi"].p_value)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60), m=st.integers(1, 60))
@settings(max_examples=40, deadline=None)
def test_psi_is_non_negative_and_every_verdict_obeys_its_rule(seed: int, n: int, m: int) -> None:
    rng = np.random.default_rng(seed)
    reference = pd.DataFrame({"x": rng.integers(0, 5, size=n).astype(float), "c": rng.choice(["a", "b"], n)})
    current = pd.DataFrame({"x": rng.integers(0, 7, size=m).astype(float), "c": rng.choice(["a", "c"], m)})
    for feature in detect_drift(reference, current).features.values():
        assert feature.methods["psi"].statistic >= 0
        for result in feature.methods.values():
            assert result.p_value is not None
            assert result.drifted == (result.p_value <= result.level and result.effect >= result.min_effect)
        assert feature.drifted == any(r.drifted for r in feature.methods.values())


@pytest.mark.parametrize(
    ("reference", "current", "features", "match"),
    [
        ({"x": [1.0, 2.0]}, {"y": [1.0]}, None, "Feature 'x' is missing from the current sample"),
        ({"x": [1.0, 2.0]}, {"x": [1.0]}, ["z"], "Feature 'z' is missing from the reference sample"),
        ({"x": [1.0, 2.0]}, {"x": []}, None, "'current' sample is empty"),
        (
            {"x": [np.nan, np.nan]},
            {"x": [1.0]},
            None,
            "Feature 'x' is missing \\(NaN\\) in all 2 rows of the reference",
        ),
        ({"x": [1.0, np.inf]}, {"x": [1.0]}, None, "Feature 'x' holds infinite values in the reference"),
        ({"x": [1.0, 2.0]}, {"x": ["a", "b"]}, None, "Feature 'x' is numeric .* but categorical"),
    ],
    ids=["missing-current", "missing-reference", "empty", "all-nan", "infinite", "kind-mismatch"],
)
def test_bad_samples_name_the_feature(
    reference: dict[str, list[object]],
    current: dict[str, list[object]],
    features: list[str] | None,
    match: str,
) -> None:
    with pytest.raises(DataValidationError, match=match):
        detect_drift(pd.DataFrame(reference), pd.DataFrame(current), features)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 0.0}, "'alpha' parameter of detect_drift must be a number in \\(0, 1\\). Got 0.0"),
        ({"features": []}, "must name at least one column"),
        ({"features": ["x", "x"]}, "names a column twice: \\['x'\\]"),
        ({"features": "x"}, "list of column names"),
    ],
)
def test_bad_parameters_are_config_errors(kwargs: dict[str, object], match: str) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    with pytest.raises(ConfigError, match=match):
        detect_drift(frame, frame, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bins": 1}, "'bins' parameter of DriftConfig must be an int >= 2. Got 1"),
        ({"correction": "holm"}, "'correction' .* Got 'holm'"),
        ({"psi_min": -0.1}, "'psi_min' .* >= 0. Got -0.1"),
        ({"psi_major": 0.05}, "'psi_major' .* >= psi_min"),
        ({"distance_min": 2.0}, "'distance_min' .* in \\[0, 1\\]. Got 2.0"),
        ({"monte_carlo_draws": 10}, "'monte_carlo_draws' .* >= 100. Got 10"),
    ],
)
def test_bad_config_is_rejected(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        DriftConfig(**kwargs)  # type: ignore[arg-type]


def test_scipy_falling_back_to_the_asymptotic_ks_is_recorded_not_warned() -> None:
    # For these 5 vs 5 values scipy's exact KS p-value does not converge (it warns and goes asymptotic).
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"x": rng.normal(size=5)})
    current = pd.DataFrame({"x": rng.normal(0.3, size=5)})
    ks = detect_drift(reference, current).features["x"].methods["ks"]
    assert ks.calibration == "ks_2samp (asymptotic fallback)"
