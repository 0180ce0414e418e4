"""Making and describing bar sets: the library side of ``stagewise data bars`` and ``check-bars``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from stagewise._exceptions import ConfigError, NotFoundError
from stagewise._output import make_parent_dirs
from stagewise.data.markets.gaps import Session, find_gaps
from stagewise.data.markets.loaders import BUNDLED_BARS, bundled_bars
from stagewise.data.markets.synthetic import synthetic_bars

__all__ = ["BAR_SOURCES", "bars_summary", "make_bars", "write_bars"]

#: Accepted ``source`` names of :func:`make_bars`.
BAR_SOURCES: tuple[str, ...] = (*sorted(BUNDLED_BARS), "synthetic")


def make_bars(source: str, *, n: int = 100_000, freq: str = "1h", seed: int = 0) -> pd.DataFrame:
    """Validated bars from a bundled series or the synthetic generator.

    Parameters
    ----------
    source : {"BTCUSD", "EURUSD", "GOOG", "synthetic"}
        A bundled series (``n``, ``freq`` and ``seed`` are then ignored) or ``"synthetic"``.
    n, freq, seed
        Passed to :func:`~stagewise.data.markets.synthetic_bars`.

    Returns
    -------
    DataFrame
        Bars in the canonical schema.

    Examples
    --------
    >>> len(make_bars("synthetic", n=10)), len(make_bars("eurusd"))
    (10, 5000)
    """
    if str(source).lower() == "synthetic":
        return synthetic_bars(n, freq=freq, seed=seed)
    if str(source).upper() not in BUNDLED_BARS:
        raise NotFoundError(f"Unknown bar source {source!r}; accepted: {', '.join(BAR_SOURCES)}.")
    return bundled_bars(source)


def write_bars(bars: pd.DataFrame, path: str | Path) -> Path:
    """Write bars to ``.parquet`` or ``.csv`` atomically: a crash leaves no half-written file.

    Parameters
    ----------
    bars : DataFrame
        Bars in the canonical schema.
    path : str or Path
        Target file; its parent directories are created.

    Returns
    -------
    Path
        The file written.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ConfigError(
            f"The output {str(target)!r} must end in .parquet or .csv. Got {suffix or 'no suffix'!r}."
        )
    make_parent_dirs(target)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        if suffix == ".parquet":
            bars.to_parquet(temporary)
        else:
            bars.to_csv(temporary, index_label="timestamp")
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target


def bars_summary(
    bars: pd.DataFrame, *, freq: str | pd.Timedelta | None = None, session: Session = "auto"
) -> dict[str, object]:
    """A few facts about validated bars, for printing: size, time span, step, gaps, price range.

    Examples
    --------
    >>> facts = bars_summary(make_bars("EURUSD"))
    >>> facts["bars"], facts["gaps"], facts["weekend closures"]
    (5000, 0, 42)
    """
    report = find_gaps(bars, freq=freq, session=session)
    return {
        "bars": len(bars),
        "first": bars.index[0] if len(bars) else None,
        "last": bars.index[-1] if len(bars) else None,
        "step": report.freq,
        "session": report.session,
        "gaps": report.n_gaps,
        "first gap": f"{report.gaps[0][0]} -> {report.gaps[0][1]}" if report.gaps else "-",
        "weekend closures": report.n_weekend_closures,
        "close min": float(bars["close"].min()) if len(bars) else None,
        "close max": float(bars["close"].max()) if len(bars) else None,
        "zero-volume bars": int((bars["volume"] == 0).sum()),
    }
