"""Fit the race simulator's lane strengths, venue offsets and minor-place parameters.

Not a benchmark: a maintenance script. It prints the fitted constants to paste into
``src/stagewise/data/races/model.py`` and the figures they give. Run::

    .venv/bin/python bench/calibrate_races.py

The win strengths are fitted by fixed-point updates on the exact expected win rates
(mean of the softmax over simulated entries); the minor-place ``place_dispersion`` and
``inside_penalty`` by solving for the expected 1-2-3 and {1,2,3} rates, scaled by the share
of those outcomes that survive non-starts and non-finishes (measured on a realised run).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
from scipy.optimize import least_squares

from stagewise.data.races import RaceModel, RaceSimulator
from stagewise.data.races.calibration import calibration_figures
from stagewise.data.races.outcome import trifecta_probabilities
from stagewise.data.races.population import make_racer_pool
from stagewise.data.races.venues import VENUES

LANE_TARGET = np.array([0.555, 0.14, 0.125, 0.105, 0.057, 0.018])
VENUE_TARGET = np.array([v.lane1_target for v in VENUES])
TRIFECTA_TARGET, TRIO_TARGET = 0.0675, 0.18
TRIO = list(itertools.permutations(range(3)))


def strengths(model: RaceModel, seeds: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    parts, venues = [], []
    for seed in seeds:
        sim = RaceSimulator(seed=seed, model=model)
        first, last = 20089, 20453  # 2025-01-01 .. 2025-12-31
        pool = make_racer_pool(seed, model)
        draws = sim._draw(pool, first, last, None)
        s, _ = sim._strength(pool, draws)
        parts.append(s)
        venues.append(np.concatenate(draws.venue)[::6])
    return np.concatenate(parts), np.concatenate(venues)


def expected_places(s: np.ndarray, dispersion: float, penalty: float) -> tuple[float, float]:
    p = trifecta_probabilities(s, dispersion, penalty)
    return float(p[:, 0, 1, 2].mean()), float(sum(p[:, a, b, c].mean() for a, b, c in TRIO))


def calibrate(model: RaceModel, seeds: tuple[int, ...] = (101, 102, 103)) -> RaceModel:
    """Return ``model`` with lane strengths, venue offsets and minor-place parameters refitted."""
    for _ in range(6):
        s, venue = strengths(model, seeds)
        e = np.exp(s - s.max(axis=1, keepdims=True))
        win = e / e.sum(axis=1, keepdims=True)
        lane = win.mean(axis=0)
        by_venue = np.array([win[venue == v, 0].mean() for v in range(1, 25)])
        logit = lambda x: np.log(x / (1 - x))  # noqa: E731
        offsets = np.asarray(model.lane1_offset) + logit(VENUE_TARGET) - logit(by_venue)
        # Lane 1 is set by the venue offsets; lanes 2-6 share the rest in the target proportions.
        share = np.log((LANE_TARGET / (1 - LANE_TARGET[0])) / (lane / (1 - lane[0])))
        strength = np.asarray(model.lane_strength) + np.where(np.arange(6) == 0, 0.0, share)
        print("lane", lane.round(4), "venue spread", by_venue.min().round(3), by_venue.max().round(3))
        model = dataclasses.replace(
            model,
            lane_strength=tuple(float(x) for x in strength.round(4)),  # type: ignore[arg-type]
            lane1_offset=tuple(float(x) for x in offsets.round(4)),
        )
    s, venue = strengths(model, seeds)
    sample = s[::2]
    realised = [
        calibration_figures(RaceSimulator(seed=seed, model=model).simulate("2025-01-01", "2025-12-31"))
        for seed in seeds
    ]
    exp_tri, exp_trio = expected_places(s, model.place_dispersion, model.inside_penalty)
    survive_tri = np.mean([r.trifecta_123 for r in realised]) / exp_tri
    survive_trio = np.mean([r.trio_123 for r in realised]) / exp_trio
    print("survival", round(survive_tri, 4), round(survive_trio, 4))

    def residual(x: np.ndarray) -> list[float]:
        tri, trio = expected_places(sample, x[0], x[1])
        return [tri * survive_tri / TRIFECTA_TARGET - 1, trio * survive_trio / TRIO_TARGET - 1]

    fit = least_squares(residual, [model.place_dispersion, model.inside_penalty], bounds=([0.3, 0], [2, 5]))
    model = dataclasses.replace(
        model, place_dispersion=round(float(fit.x[0]), 4), inside_penalty=round(float(fit.x[1]), 4)
    )
    return model


def main() -> None:
    model = calibrate(RaceModel())
    print("lane_strength =", model.lane_strength)
    print("lane1_offset =", model.lane1_offset)
    print("place_dispersion =", model.place_dispersion, "inside_penalty =", model.inside_penalty)
    check = calibration_figures(RaceSimulator(seed=0, model=model).simulate("2025-01-01", "2025-12-31"))
    print("seed 0:", np.round(check.lane_win_rate, 4), round(check.trifecta_123, 4), round(check.trio_123, 4))
    print(
        "venue lane-1:",
        min(check.lane1_win_rate_by_venue.values()),
        max(check.lane1_win_rate_by_venue.values()),
    )


if __name__ == "__main__":
    main()
