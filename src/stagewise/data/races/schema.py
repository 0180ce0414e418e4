"""The race data schema: one row per boat, in a long pandas DataFrame.

See docs/data-races.md for the table with every column's meaning and allowed values.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from stagewise.metrics.races import DID_NOT_START, NON_FINISH_STATUSES, STARTED_NOT_FINISHED

__all__ = [
    "DID_NOT_START",
    "DTYPES",
    "FINISHED",
    "NON_FINISH_STATUSES",
    "ODDS_COLUMNS",
    "ODDS_DTYPES",
    "ORACLE_COLUMNS",
    "ORACLE_DTYPES",
    "RACER_CLASSES",
    "RACE_COLUMNS",
    "REQUIRED_COLUMNS",
    "STARTED_NOT_FINISHED",
    "STATUS_MEANINGS",
]

#: ``status`` of a boat that finished; its ``finish_position`` is then 1-6.
FINISHED: Final = "finished"

#: Racer classes, best first.
RACER_CLASSES: tuple[str, ...] = ("A1", "A2", "B1", "B2")

#: Every non-finish status code with its meaning (the codes used on official results).
STATUS_MEANINGS: MappingProxyType[str, str] = MappingProxyType(
    {
        "F": "flying start (フライング): crossed the line early; removed from the race",
        "L": "late start (出遅れ): more than 1 s late; removed from the race",
        "欠": "absent (欠場): did not take part",
        "失": "disqualified (失格)",
        "転": "capsized (転覆)",
        "落": "fell overboard (落水)",
        "沈": "sank (沈没)",
        "妨": "disqualified for obstruction (妨害失格)",
        "エ": "engine stopped (エンスト)",
        "不": "did not complete the course (不完走)",
    }
)

#: Columns of every race data set, in order, with their pandas dtypes.
DTYPES: MappingProxyType[str, str] = MappingProxyType(
    {
        "race_id": "str",
        "race_date": "datetime64[ns]",
        "venue_code": "int64",
        "race_number": "int64",
        "pit": "int64",
        "racer_id": "int64",
        "racer_class": "str",
        "national_win_rate": "float64",
        "local_win_rate": "float64",
        "motor_2rate": "float64",
        "boat_2rate": "float64",
        "exhibition_time": "float64",
        "avg_start_timing": "float64",
        "finish_position": "Int64",
        "status": "str",
    }
)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(DTYPES)

#: Columns only simulated data has: the true probabilities the simulator drew the race from.
ORACLE_DTYPES: MappingProxyType[str, str] = MappingProxyType(
    {"true_win_prob": "float64", "oracle_trifecta_position": "Int64"}
)
ORACLE_COLUMNS: tuple[str, ...] = tuple(ORACLE_DTYPES)

#: Optional pre-race odds: the decimal win odds of each boat and how many minutes before the
#: close they were read. Final odds are known only after betting closes, so odds without an
#: explicit snapshot time are refused (see docs/money.md).
ODDS_DTYPES: MappingProxyType[str, str] = MappingProxyType(
    {"win_odds": "float64", "odds_snapshot_min": "int64"}
)
ODDS_COLUMNS: tuple[str, ...] = tuple(ODDS_DTYPES)
RACE_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + ORACLE_COLUMNS + ODDS_COLUMNS
