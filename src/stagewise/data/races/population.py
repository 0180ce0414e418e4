"""Who races where and when: the racer pool, the venue calendars and the series rosters.

Every random draw is keyed by ``(seed, purpose, venue, day)`` through its own
:class:`numpy.random.SeedSequence`, so a venue-day comes out the same whatever date range
it is simulated in: January simulated alone equals January of the simulated year.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from stagewise.data.races.model import RaceModel

__all__ = ["CLASS_SHARES", "RacerPool", "Roster", "make_racer_pool", "make_roster", "venue_calendar"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Share of racers in each class (the official quotas are about 20/20/50/10 %).
CLASS_SHARES: dict[str, float] = {"A1": 0.20, "A2": 0.20, "B1": 0.50, "B2": 0.10}
_SERIES_DAYS = np.array([4, 5, 6, 7])
#: Mean closed days between two series; with 5.5-day series a venue is open 48 % of days,
#: so about 11.5 of the 24 venues (138 races) run on a typical day.
_MEAN_GAP = 5.96
N_VENUES = 24
FIRST_RACER_ID = 3001


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([seed, *key])


@dataclass(frozen=True, slots=True)
class RacerPool:
    """Latent and public attributes of every racer, indexed by position."""

    racer_id: IntArray
    skill: FloatArray
    national_win_rate: FloatArray
    racer_class: npt.NDArray[np.str_]
    avg_start_timing: FloatArray
    aptitude: FloatArray  # (n_racers, 24): latent venue aptitude
    local_win_rate: FloatArray  # (n_racers, 24): public, noisy


def make_racer_pool(seed: int, model: RaceModel) -> RacerPool:
    """Draw the racers once per seed; they recur across every race of the simulation."""
    rng = _rng(seed, 0)
    n = model.n_racers
    skill = rng.standard_normal(n)
    national = np.clip(5.3 + 1.15 * skill + rng.normal(0.0, 0.2, n), 1.0, 8.9).round(2)
    # Classes come from the previous rating period, a second noisy look at the same skill.
    graded = skill + rng.normal(0.0, 0.35, n)
    cuts = np.quantile(graded, [1.0 - 0.20, 1.0 - 0.40, 1.0 - 0.90])
    racer_class = np.where(
        graded >= cuts[0], "A1", np.where(graded >= cuts[1], "A2", np.where(graded >= cuts[2], "B1", "B2"))
    )
    start = np.clip(0.165 - 0.01 * skill + rng.normal(0.0, 0.018, n), 0.09, 0.28).round(2)
    aptitude = rng.standard_normal((n, N_VENUES))
    local = national[:, None] + 0.5 * aptitude + rng.normal(0.0, model.local_rate_noise, (n, N_VENUES))
    return RacerPool(
        racer_id=np.arange(FIRST_RACER_ID, FIRST_RACER_ID + n, dtype=np.int64),
        skill=skill,
        national_win_rate=national,
        racer_class=racer_class,
        avg_start_timing=start,
        aptitude=aptitude,
        local_win_rate=np.clip(local, 0.0, 10.0).round(2),
    )


def venue_calendar(seed: int, venue: int, first_day: int, last_day: int) -> tuple[IntArray, IntArray]:
    """Open days of a venue in [first_day, last_day] (days since 1970-01-01) and each day's series start.

    A venue alternates closed gaps (1 + Poisson(4.96) days) and series of 4-7 racing days,
    drawn from 1970-01-01 on, so the calendar does not depend on the requested range.
    """
    rng = _rng(seed, 1, venue)
    days: list[IntArray] = []
    series: list[IntArray] = []
    cursor = 0
    while cursor <= last_day:
        n = 4096
        gaps = 1 + rng.poisson(_MEAN_GAP - 1.0, n)
        lengths = rng.choice(_SERIES_DAYS, n)
        starts = cursor + np.cumsum(gaps) + np.concatenate([[0], np.cumsum(lengths)[:-1]])
        cursor = int(starts[-1] + lengths[-1])
        keep = (starts <= last_day) & (starts + lengths > first_day)
        for s, length in zip(starts[keep], lengths[keep], strict=True):
            d = np.arange(s, s + length, dtype=np.int64)
            d = d[(d >= first_day) & (d <= last_day)]
            days.append(d)
            series.append(np.full(d.size, s, dtype=np.int64))
    if not days:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(days), np.concatenate(series)


@dataclass(frozen=True, slots=True)
class Roster:
    """The racers of one series at one venue, with the motor and hull each one drew."""

    racer: IntArray  # positions in the RacerPool
    motor_quality: FloatArray
    boat_quality: FloatArray
    motor_2rate: FloatArray
    boat_2rate: FloatArray


def make_roster(seed: int, venue: int, series_start: int, model: RaceModel) -> Roster:
    """Racers, motors and hulls of the series starting on ``series_start`` at ``venue``."""
    rng = _rng(seed, 2, venue, series_start)
    k = model.roster_size
    racer = rng.choice(model.n_racers, k, replace=False).astype(np.int64)
    motor = rng.standard_normal(k)
    boat = rng.standard_normal(k)
    # The 2-rates are the motor's and hull's past records: noisy measures of their quality.
    motor_2rate = np.clip(33.0 + 6.0 * motor + rng.normal(0.0, 4.0, k), 10.0, 70.0).round(2)
    boat_2rate = np.clip(33.0 + 4.0 * boat + rng.normal(0.0, 4.0, k), 10.0, 70.0).round(2)
    return Roster(racer, motor, boat, motor_2rate, boat_2rate)
