"""The parameters of the race simulator, with the values calibrated to the national figures.

Every number here is documented in docs/data-races.md together with the figure it was
calibrated against. The win strength of a boat is::

    s = lane_strength[pit] + lane1_offset[venue] * [pit == 1]
        + skill * z + aptitude * a + motor * c + start * (0.16 - avg_start_timing) / 0.02
        + boat * b + form

where ``z`` is the racer's true skill, ``a`` their aptitude for the venue, ``c`` today's
motor condition, ``b`` the hull's quality and ``form`` unobservable luck of the day. The
racer's national and local win rates, class, motor and boat 2-rates and the exhibition time
are noisy public measurements of these latent values.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DNF_RATES", "DNS_RATES", "RaceModel"]

#: Probability per boat of not starting: flying start, late start, absent (all pre-race unknown).
DNS_RATES: dict[str, float] = {"F": 0.0035, "L": 0.0003, "欠": 0.0025}
#: Probability per starting non-winner of not finishing, by status.
DNF_RATES: dict[str, float] = {
    "転": 0.0015,  # capsized
    "落": 0.0010,  # fell overboard
    "沈": 0.0002,  # sank
    "妨": 0.0004,  # disqualified for obstruction
    "エ": 0.0005,  # engine stopped
    "不": 0.0006,  # did not complete the course
    "失": 0.0005,  # other disqualification
}


@dataclass(frozen=True, slots=True)
class RaceModel:
    """Generative parameters of :class:`~stagewise.data.races.RaceSimulator`.

    The defaults are the calibrated values; change them only to study the simulator.

    Examples
    --------
    >>> RaceModel().place_dispersion < 1.5
    True
    """

    lane_strength: tuple[float, float, float, float, float, float] = (
        0.0,
        -1.4776,
        -1.5999,
        -1.7872,
        -2.4364,
        -3.6183,
    )
    #: Extra win strength of lane 1 at venues 1..24 (index 0 is venue 1).
    lane1_offset: tuple[float, ...] = (
        -0.0638,
        -0.4298,
        -0.5512,
        -0.403,
        0.0965,
        0.0483,
        0.2186,
        0.2457,
        0.1833,
        0.1288,
        -0.0447,
        0.3341,
        0.2783,
        -0.045,
        0.1789,
        0.1307,
        0.1767,
        0.5306,
        0.3434,
        0.1869,
        0.3823,
        -0.0177,
        0.2281,
        0.6387,
    )
    skill: float = 0.55
    aptitude: float = 0.12
    motor: float = 0.28
    start: float = 0.18
    boat: float = 0.05
    form_sd: float = 0.1
    #: Noise of the public local win rate around ``national + 0.5 * aptitude``.
    local_rate_noise: float = 0.3
    #: Noise of the exhibition time (seconds) around what motor condition and skill explain.
    exhibition_noise: float = 0.015
    place_dispersion: float = 1.0669
    inside_penalty: float = 1.4564
    #: How much more often a fast starter flies: the F rate is multiplied by
    #: exp(flying_start_gain * (0.16 - avg_start_timing) / 0.02).
    flying_start_gain: float = 0.4
    n_racers: int = 1600
    roster_size: int = 50
