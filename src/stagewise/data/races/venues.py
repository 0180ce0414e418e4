"""The 24 kyotei venues and the lane-1 win rate the simulator gives each of them.

The targets are shaped like the published venue statistics (tidal, narrow Edogawa the most
open, Omura and Tokuyama the most lane-1 friendly) and average 55.5 %, the national figure.
They are the simulator's calibration targets, not official statistics of any one year.
The extra win strength of lane 1 that makes the simulator hit each target is
``RaceModel.lane1_offset``, fitted by ``bench/calibrate_races.py`` (see docs/data-races.md).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["VENUES", "VENUE_CODES", "Venue"]


@dataclass(frozen=True, slots=True)
class Venue:
    """One venue: its code (1-24), names and lane-1 calibration."""

    code: int
    name: str
    name_ja: str
    lane1_target: float


VENUES: tuple[Venue, ...] = (
    Venue(1, "Kiryu", "桐生", 0.52),
    Venue(2, "Toda", "戸田", 0.44),
    Venue(3, "Edogawa", "江戸川", 0.41),
    Venue(4, "Heiwajima", "平和島", 0.45),
    Venue(5, "Tamagawa", "多摩川", 0.55),
    Venue(6, "Hamanako", "浜名湖", 0.54),
    Venue(7, "Gamagori", "蒲郡", 0.58),
    Venue(8, "Tokoname", "常滑", 0.58),
    Venue(9, "Tsu", "津", 0.57),
    Venue(10, "Mikuni", "三国", 0.56),
    Venue(11, "Biwako", "びわこ", 0.52),
    Venue(12, "Suminoe", "住之江", 0.60),
    Venue(13, "Amagasaki", "尼崎", 0.59),
    Venue(14, "Naruto", "鳴門", 0.52),
    Venue(15, "Marugame", "丸亀", 0.57),
    Venue(16, "Kojima", "児島", 0.56),
    Venue(17, "Miyajima", "宮島", 0.57),
    Venue(18, "Tokuyama", "徳山", 0.64),
    Venue(19, "Shimonoseki", "下関", 0.60),
    Venue(20, "Wakamatsu", "若松", 0.57),
    Venue(21, "Ashiya", "芦屋", 0.61),
    Venue(22, "Fukuoka", "福岡", 0.53),
    Venue(23, "Karatsu", "唐津", 0.58),
    Venue(24, "Omura", "大村", 0.66),
)
VENUE_CODES: tuple[int, ...] = tuple(v.code for v in VENUES)
