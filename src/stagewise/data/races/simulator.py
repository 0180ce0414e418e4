"""The race simulator: the embedded default race data set, with its oracle."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from stagewise._exceptions import ConfigError
from stagewise.data.races.model import DNF_RATES, DNS_RATES, RaceModel
from stagewise.data.races.odds import PublicModel, pool_odds, public_win_shares
from stagewise.data.races.outcome import sample_finish_order, trifecta_probabilities, win_probabilities
from stagewise.data.races.population import RacerPool, Roster, make_racer_pool, make_roster, venue_calendar
from stagewise.data.races.schema import DTYPES, FINISHED, ODDS_DTYPES, ORACLE_DTYPES, RACE_COLUMNS
from stagewise.data.races.venues import VENUE_CODES

__all__ = ["RaceSimulator", "simulate_races"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
DateLike = str | dt.date | pd.Timestamp
ProgressCallback = Callable[[int, int], None]

RACES_PER_DAY = 12
LANES = 6
_EPOCH = dt.date(1970, 1, 1)


def _to_day(value: DateLike, name: str) -> int:
    """Days since 1970-01-01 of a date given as 'YYYY-MM-DD', a date or a Timestamp."""
    if isinstance(value, pd.Timestamp | dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ConfigError(
                f"The '{name}' date must be a date in ISO format YYYY-MM-DD. Got {value!r} instead."
            ) from None
    if not isinstance(value, dt.date):
        raise ConfigError(f"The '{name}' date must be a YYYY-MM-DD string or a date. Got {value!r} instead.")
    if value < _EPOCH:
        raise ConfigError(f"The '{name}' date must be on or after 1970-01-01. Got {value.isoformat()}.")
    return (value - _EPOCH).days


def _check_venues(venues: Iterable[int] | None) -> tuple[int, ...]:
    if venues is None:
        return VENUE_CODES
    chosen = tuple(venues)
    bad = [
        v for v in chosen if isinstance(v, bool) or not isinstance(v, int | np.integer) or not 1 <= v <= 24
    ]
    if bad or not chosen or len(set(chosen)) != len(chosen):
        raise ConfigError(
            "The 'venues' parameter must be distinct venue codes, ints in 1..24, at least one. "
            f"Got {list(chosen)!r} instead."
        )
    return tuple(sorted(int(v) for v in chosen))


@dataclass
class _Draws:
    """Everything drawn for a batch of venue-days, one row per boat (72 per venue-day)."""

    day: list[IntArray]
    venue: list[IntArray]
    racer: list[IntArray]
    motor_quality: list[FloatArray]
    boat_quality: list[FloatArray]
    motor_2rate: list[FloatArray]
    boat_2rate: list[FloatArray]
    condition: list[FloatArray]
    exhibition: list[FloatArray]
    form: list[FloatArray]
    uniform: list[FloatArray]  # (72, 2): start event, finish event
    gumbel: list[FloatArray]  # (72, 2): win noise, place noise
    public: list[FloatArray]  # (72,): the betting public's error on each boat's win chance


class RaceSimulator:
    """Simulate kyotei races calibrated to the published national figures, with their oracle.

    Six boats a race, 12 races a venue-day, about 11-12 of the 24 venues open a day. Each row
    carries the public pre-race entry data, the result, and the true probabilities the result
    was drawn from (``true_win_prob``, exact; ``oracle_trifecta_position``, the most probable
    ordered trifecta), and the pre-race win odds of a partly informed betting public
    (``win_odds``, read ``odds_snapshot_min`` minutes before the close; docs/money.md). The
    model and its calibration are in docs/data-races.md.

    Parameters
    ----------
    seed : int
        Seed of every random draw. A venue-day's races depend only on the seed, the venue and
        the day, not on the requested range.
    venues : iterable of int, optional
        Venue codes (1-24) to simulate; all 24 by default.
    model : RaceModel, optional
        Generative parameters; the calibrated defaults unless given.
    public : PublicModel, optional
        How the betting public forms the win pool (payout rate 75 %, noise, longshot bias).

    Examples
    --------
    >>> sim = RaceSimulator(seed=1, venues=[24])
    >>> races = sim.simulate("2025-01-01", "2025-01-10")
    >>> races.groupby("race_id").size().eq(6).all()
    np.True_
    >>> bool(races.groupby("race_id")["true_win_prob"].sum().round(9).eq(1.0).all())
    True
    """

    def __init__(
        self,
        seed: int = 0,
        venues: Iterable[int] | None = None,
        model: RaceModel | None = None,
        public: PublicModel | None = None,
    ):
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ConfigError(f"The 'seed' parameter must be an int >= 0. Got {seed!r} instead.")
        self.seed = int(seed)
        self.venues = _check_venues(venues)
        self.model = model if model is not None else RaceModel()
        self.public = public if public is not None else PublicModel()

    def simulate(
        self, start: DateLike, end: DateLike, progress: ProgressCallback | None = None
    ) -> pd.DataFrame:
        """Races from ``start`` to ``end`` inclusive; ``progress(done, total)`` is called per day."""
        first, last = _to_day(start, "start"), _to_day(end, "end")
        if last < first:
            raise ConfigError(f"The 'end' date must not be before 'start'. Got start={start!s}, end={end!s}.")
        pool = make_racer_pool(self.seed, self.model)
        return self._assemble(pool, self._draw(pool, first, last, progress))

    def _draw(self, pool: RacerPool, first: int, last: int, progress: ProgressCallback | None) -> _Draws:
        m = self.model
        by_day: dict[int, list[tuple[int, int]]] = {}
        for v in self.venues:
            days, series = venue_calendar(self.seed, v, first, last)
            for d, s in zip(days.tolist(), series.tolist(), strict=True):
                by_day.setdefault(d, []).append((v, s))
        out = _Draws(*([] for _ in range(13)))
        rosters: dict[tuple[int, int], Roster] = {}
        total = last - first + 1
        n_slots = RACES_PER_DAY * LANES
        for i, day in enumerate(range(first, last + 1)):
            for v, s in sorted(by_day.get(day, [])):
                if (v, s) not in rosters:
                    rosters[(v, s)] = make_roster(self.seed, v, s, m)
                r = rosters[(v, s)]
                rng = np.random.default_rng([self.seed, 3, v, day])
                slot = _slots(rng, m.roster_size, n_slots)
                racer = r.racer[slot]
                quality = r.motor_quality[slot]
                # Today's motor condition: the motor's quality plus the day's tuning; the
                # exhibition run (before the race, public) measures it with noise.
                condition = quality + rng.normal(0.0, 0.5, n_slots)
                shift = rng.normal(0.0, 0.05)  # wind and water of the day, same for every boat
                exhibition = (
                    6.75
                    + shift
                    - 0.04 * condition
                    - 0.015 * pool.skill[racer]
                    + rng.normal(0.0, m.exhibition_noise, n_slots)
                )
                out.day.append(np.full(n_slots, day, dtype=np.int64))
                out.venue.append(np.full(n_slots, v, dtype=np.int64))
                out.racer.append(racer)
                out.motor_quality.append(quality)
                out.boat_quality.append(r.boat_quality[slot])
                out.motor_2rate.append(r.motor_2rate[slot])
                out.boat_2rate.append(r.boat_2rate[slot])
                out.condition.append(condition)
                out.exhibition.append(exhibition.round(2))
                out.form.append(rng.normal(0.0, m.form_sd, n_slots))
                out.uniform.append(rng.random((n_slots, 2)))
                out.gumbel.append(rng.gumbel(size=(n_slots, 2)))
                # Its own stream, so adding odds left every earlier draw unchanged.
                out.public.append(np.random.default_rng([self.seed, 5, v, day]).normal(size=n_slots))
            if progress is not None:
                progress(i + 1, total)
        return out

    def _strength(self, pool: RacerPool, draws: _Draws) -> tuple[FloatArray, FloatArray]:
        """Win strengths ``(n_races, 6)`` and the boats' average start timings."""
        m = self.model
        venue = np.concatenate(draws.venue)
        racer = np.concatenate(draws.racer)
        n_races = venue.size // LANES

        def grid(parts: list[FloatArray]) -> FloatArray:
            return np.concatenate(parts).reshape(n_races, LANES)

        st = pool.avg_start_timing[racer].reshape(n_races, LANES)
        strength = (
            np.asarray(m.lane_strength)[None, :]
            + np.where(np.arange(LANES) == 0, np.asarray(m.lane1_offset)[venue[::LANES, None] - 1], 0.0)
            + m.skill * pool.skill[racer].reshape(n_races, LANES)
            + m.aptitude * pool.aptitude[racer, venue - 1].reshape(n_races, LANES)
            + m.motor * grid(draws.condition)
            + m.start * (0.16 - st) / 0.02
            + m.boat * grid(draws.boat_quality)
            + grid(draws.form)
        )
        return strength, st

    def _assemble(self, pool: RacerPool, draws: _Draws) -> pd.DataFrame:
        m = self.model
        if not draws.day:
            return _empty_frame()
        day = np.concatenate(draws.day)
        venue = np.concatenate(draws.venue)
        racer = np.concatenate(draws.racer)
        n_races = day.size // LANES
        lane_index = np.tile(np.arange(LANES), n_races)
        strength, st = self._strength(pool, draws)
        uniform = np.concatenate(draws.uniform).reshape(n_races, LANES, 2)
        gumbel = np.concatenate(draws.gumbel).reshape(n_races, LANES, 2)
        status, finish, true_win = _results(m, strength, st, uniform, gumbel)
        trifecta = _oracle_trifecta(strength, m.place_dispersion, m.inside_penalty)
        public = np.concatenate(draws.public).reshape(n_races, LANES)
        win_odds = pool_odds(public_win_shares(true_win, public, self.public), self.public.payout_rate)
        race_day = day[::LANES]
        race_venue = venue[::LANES]
        race_number = np.tile(np.arange(1, RACES_PER_DAY + 1), n_races // RACES_PER_DAY)
        dates = race_day.astype("datetime64[D]")
        ids = [
            f"{d.replace('-', '')}-{v:02d}-{r:02d}"
            for d, v, r in zip(
                np.datetime_as_string(dates).tolist(), race_venue.tolist(), race_number.tolist(), strict=True
            )
        ]
        frame = pd.DataFrame(
            {
                "race_id": pd.Series(np.repeat(ids, LANES), dtype="str"),
                "race_date": np.repeat(dates, LANES).astype("datetime64[ns]"),
                "venue_code": venue,
                "race_number": np.repeat(race_number, LANES),
                "pit": lane_index + 1,
                "racer_id": pool.racer_id[racer],
                "racer_class": pd.Series(pool.racer_class[racer], dtype="str"),
                "national_win_rate": pool.national_win_rate[racer],
                "local_win_rate": pool.local_win_rate[racer, venue - 1],
                "motor_2rate": np.concatenate(draws.motor_2rate),
                "boat_2rate": np.concatenate(draws.boat_2rate),
                "exhibition_time": np.concatenate(draws.exhibition),
                "avg_start_timing": st.ravel(),
                "finish_position": pd.arrays.IntegerArray(finish.ravel(), finish.ravel() == 0),
                "status": pd.Series(status.ravel(), dtype="str"),
                "true_win_prob": true_win.ravel(),
                "oracle_trifecta_position": pd.arrays.IntegerArray(trifecta.ravel(), trifecta.ravel() == 0),
                "win_odds": win_odds.ravel(),
                "odds_snapshot_min": np.full(n_races * LANES, self.public.snapshot_minutes, dtype=np.int64),
            }
        )
        return frame[list(RACE_COLUMNS)]


def _results(
    m: RaceModel, strength: FloatArray, st: FloatArray, uniform: FloatArray, gumbel: FloatArray
) -> tuple[npt.NDArray[np.object_], IntArray, FloatArray]:
    """Status and finish position (0 for non-finishers) of every boat, and the exact win probabilities.

    ``uniform[..., 0]`` decides who starts, ``uniform[..., 1]`` who of the starting
    non-winners fails to finish; ``gumbel`` drives the win and the minor places.
    """
    n_races = strength.shape[0]
    p_fly = DNS_RATES["F"] * np.exp(m.flying_start_gain * (0.16 - st) / 0.02)
    dns_cut = np.stack([p_fly, p_fly + DNS_RATES["L"], p_fly + DNS_RATES["L"] + DNS_RATES["欠"]], axis=2)
    status = np.full((n_races, LANES), FINISHED, dtype=object)
    dns_kind = (uniform[:, :, 0:1] >= dns_cut).sum(axis=2)  # 0 F, 1 L, 2 欠, 3 starts
    for k, code in enumerate(("F", "L", "欠")):
        status[dns_kind == k] = code
    starts = dns_kind == 3
    true_win = win_probabilities(strength, 1.0 - dns_cut[:, :, 2])

    order = sample_finish_order(
        strength, starts, gumbel[:, :, 0], gumbel[:, :, 1], m.place_dispersion, m.inside_penalty
    )
    place = np.empty((n_races, LANES), dtype=np.int64)
    np.put_along_axis(place, order, np.arange(1, LANES + 1)[None, :].repeat(n_races, 0), axis=1)
    winner = order[:, 0:1] == np.arange(LANES)[None, :]
    dnf_cut = np.cumsum(list(DNF_RATES.values()))
    dnf_kind = np.searchsorted(dnf_cut, uniform[:, :, 1], side="right")
    dnf = starts & ~winner & (dnf_kind < len(dnf_cut))
    for k, code in enumerate(DNF_RATES):
        status[dnf & (dnf_kind == k)] = code
    finished = starts & ~dnf
    # Finishers are renumbered 1..k after the boats that dropped out.
    ahead = finished[:, None, :] & (place[:, None, :] <= place[:, :, None])
    finish: IntArray = np.where(finished, ahead.sum(axis=2), 0).astype(np.int64)
    return status, finish, true_win


def _slots(rng: np.random.Generator, roster_size: int, n_slots: int) -> IntArray:
    """Roster positions for the day's slots (race-major): each racer races once or twice."""
    first = rng.permutation(roster_size)
    second = rng.permutation(roster_size)
    split = roster_size % LANES
    if split:
        # The race that straddles both permutations must not get a racer twice.
        straddle = first[roster_size - split :]
        clash = np.isin(second, straddle)
        second = np.concatenate([second[~clash], second[clash]])
    slots: IntArray = np.concatenate([first, second])[:n_slots].astype(np.int64)
    return slots


def _oracle_trifecta(strength: FloatArray, dispersion: float, inside_penalty: float) -> IntArray:
    """1/2/3 on the boats of each race's most probable ordered trifecta, 0 elsewhere."""
    n = strength.shape[0]
    out = np.zeros((n, LANES), dtype=np.int64)
    for lo in range(0, n, 8192):
        probs = trifecta_probabilities(strength[lo : lo + 8192], dispersion, inside_penalty)
        best = probs.reshape(probs.shape[0], -1).argmax(axis=1)
        a, b, c = np.unravel_index(best, (LANES, LANES, LANES))
        rows = np.arange(lo, lo + probs.shape[0])
        out[rows, a], out[rows, b], out[rows, c] = 1, 2, 3
    return out


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype=t) for c, t in {**DTYPES, **ORACLE_DTYPES, **ODDS_DTYPES}.items()}
    )


def simulate_races(
    start: DateLike,
    end: DateLike,
    seed: int = 0,
    venues: Iterable[int] | None = None,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Simulated races from ``start`` to ``end`` inclusive (see :class:`RaceSimulator`).

    Examples
    --------
    >>> races = simulate_races("2025-01-01", "2025-01-03", seed=0)
    >>> sorted(races["pit"].unique().tolist())
    [1, 2, 3, 4, 5, 6]
    """
    return RaceSimulator(seed=seed, venues=venues).simulate(start, end, progress=progress)
