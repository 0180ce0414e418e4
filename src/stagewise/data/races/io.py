"""Reading and writing race data files (CSV, Parquet) and turning races into results."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from stagewise._exceptions import ConfigError, DataValidationError, NotFoundError
from stagewise._output import make_parent_dirs
from stagewise.data.races.schema import FINISHED
from stagewise.data.races.validation import validate_races

__all__ = ["SUFFIXES", "load_races", "race_results", "save_races"]

#: File suffixes the race loaders accept.
SUFFIXES: tuple[str, ...] = (".csv", ".parquet")


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigError(
            f"The race data file must end in one of {list(SUFFIXES)!r}. "
            f"Got {str(path)!r} (suffix {suffix!r})."
        )
    return suffix


def load_races(path: str | os.PathLike[str], min_boats: int = 6) -> pd.DataFrame:
    """Read a race data set from CSV (UTF-8) or Parquet and validate it.

    Raises
    ------
    ConfigError
        The suffix is not .csv or .parquet.
    NotFoundError
        The file does not exist.
    DataValidationError
        The file cannot be parsed, or a row breaks the schema (see :func:`validate_races`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from stagewise.data import save_races, simulate_races
    >>> races = simulate_races("2025-01-01", "2025-01-01", venues=[24])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = save_races(races, pathlib.Path(tmp) / "races.csv")
    ...     load_races(path).equals(races)
    True
    """
    file = Path(path)
    suffix = _suffix(file)
    if not file.is_file():
        raise NotFoundError(f"Race data file {str(file)!r} does not exist.")
    try:
        if suffix == ".csv":
            raw = pd.read_csv(
                file,
                encoding="utf-8",
                dtype={"race_id": "str", "racer_class": "str", "status": "str", "race_date": "str"},
                keep_default_na=False,
                na_values={"finish_position": [""], "oracle_trifecta_position": [""], "win_odds": [""]},
            )
        else:
            raw = pd.read_parquet(file)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise DataValidationError(f"Cannot read race data file {str(file)!r}: {exc}") from exc
    return validate_races(raw, min_boats=min_boats)


def save_races(races: pd.DataFrame, path: str | os.PathLike[str], min_boats: int = 6) -> Path:
    """Validate ``races`` (as :func:`validate_races`) and write .csv or .parquet, making the parent dir.

    The file is written next to its destination and renamed into place, so a crash
    leaves either the old file or the new one, never half of one.
    """
    file = Path(path)
    suffix = _suffix(file)
    checked = validate_races(races, min_boats=min_boats)
    make_parent_dirs(file)
    fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".tmp", dir=file.parent)
    os.close(fd)
    try:
        if suffix == ".csv":
            out = checked.assign(race_date=checked["race_date"].dt.strftime("%Y-%m-%d"))
            out.to_csv(tmp, index=False, encoding="utf-8")
        else:
            checked.to_parquet(tmp, index=False)
        os.replace(tmp, file)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return file


def race_results(races: pd.DataFrame) -> dict[str, dict[int, int | str]]:
    """``{race_id: {pit: rank or status}}``: the ``result`` mapping that ``score_race`` takes.

    Examples
    --------
    >>> from stagewise.data import simulate_races
    >>> races = simulate_races("2025-01-01", "2025-01-01", venues=[24])
    >>> result = race_results(races)["20250101-24-01"]
    >>> sorted(result)
    [1, 2, 3, 4, 5, 6]
    """
    missing = [c for c in ("race_id", "pit", "finish_position", "status") if c not in races.columns]
    if missing:
        raise DataValidationError(
            f"race_results needs the columns race_id, pit, finish_position, status; missing {missing!r}."
        )
    out: dict[str, dict[int, int | str]] = {}
    ranks: list[int | None] = (
        races["finish_position"]
        .astype("Int64")
        .astype(object)
        .where(races["finish_position"].notna(), None)
        .tolist()
    )
    for race_id, pit, rank, status in zip(
        races["race_id"].astype(str).tolist(),
        races["pit"].astype("int64").tolist(),
        ranks,
        races["status"].astype(str).tolist(),
        strict=True,
    ):
        if status == FINISHED:
            if rank is None:
                raise DataValidationError(
                    f"race {race_id}: field 'finish_position' is missing for finished pit {pit}."
                )
            out.setdefault(race_id, {})[pit] = int(rank)
        else:
            out.setdefault(race_id, {})[pit] = status
    return out
