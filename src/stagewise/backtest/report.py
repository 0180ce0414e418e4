"""Write a walk-forward result: JSON, the seed-style text report, predictions Parquet, HTML.

``walkforward_results.json`` carries ``format_version`` (see
:data:`stagewise.backtest.summary.FORMAT_VERSION`); NaN is written as ``null``. The text report
mirrors the seed's sample (総ステップ数 / 総評価レース数 / 【全体統計】 / 【ステップ平均】), in
English by default and with the seed's Japanese labels for ``lang="ja"``. Each file is written
to a temporary name and renamed, so a crash never leaves a half-written report.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stagewise._domain import Domain
from stagewise._exceptions import UnsupportedFormatError
from stagewise._output import make_dirs
from stagewise.backtest.summary import FORMAT_VERSION

__all__ = ["read_results", "render_text", "write_outputs"]

RESULTS_FILE = "walkforward_results.json"
TEXT_FILE = "walkforward_report.txt"
PREDICTIONS_FILE = "walkforward_predictions.parquet"
HTML_FILE = "walkforward_report.html"

_LABELS = {
    "en": {
        "title": "Walk-forward backtest report",
        "steps": "Total steps",
        "races": "Races evaluated",
        "bars": "Bars evaluated",
        "overall": "[Overall]",
        "average": "[Step averages]",
        "hit_rate_1st": "Win hit rate",
        "hit_rate_top3": "Trifecta hit rate",
        "hit_rate_trio": "Trio hit rate",
        "avg_score_accuracy": "Average score accuracy",
        "log_loss": "Win log-loss",
        "avg_prefix": "Average ",
        "baselines": "[Baselines]",
        "oracle": "[Share of the achievable (oracle)]",
        "non_finishers": "[Non-finishers]",
        "guard": "[Leakage guard]",
        "per_step": "[Per step]",
        "no_findings": "no implausible result found",
    },
    "ja": {
        "title": "Walk-forward バックテスト レポート",
        "steps": "総ステップ数",
        "races": "総評価レース数",
        "bars": "総評価バー数",
        "overall": "【全体統計】",
        "average": "【ステップ平均】",
        "hit_rate_1st": "1着的中率",
        "hit_rate_top3": "3連単的中率",
        "hit_rate_trio": "3連複的中率",
        "avg_score_accuracy": "平均スコア精度",
        "log_loss": "勝率の対数損失",
        "avg_prefix": "平均",
        "baselines": "【ベースライン】",
        "oracle": "【達成可能な上限（オラクル）に対する割合】",
        "non_finishers": "【非完走艇】",
        "guard": "【リーク検査】",
        "per_step": "【ステップ別】",
        "no_findings": "不自然な結果は見つかりませんでした",
    },
}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _pct(value: Any) -> str:
    return (
        "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.2f}%"
    )


def _num(value: Any) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def _ci(interval: Any, pct: bool) -> str:
    if not interval or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in interval):
        return ""
    fmt = _pct if pct else _num
    return f"  (95% CI {fmt(interval[0])} – {fmt(interval[1])})"


def _bp(value: Any) -> str:
    """A per-bar return in basis points (1 bp = 0.01 %)."""
    return (
        "n/a"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{1e4 * value:.2f} bp"
    )


def _ci_bp(interval: Any) -> str:
    if not interval or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in interval):
        return ""
    return f"  (95% CI {_bp(interval[0])} – {_bp(interval[1])})"


def render_text(result: dict[str, Any], lang: str = "en") -> str:
    """The human-readable report, laid out like the seed's sample output."""
    t = _LABELS[lang]
    s = result["summary"]
    overall = s["overall"]
    averages = s["step_average"]
    cfg = result.get("config", {})
    lines = [f"==== {t['title']} ({result['domain']}) ====", ""]
    if cfg:
        lines += [
            f"{cfg['start_date']} .. {cfg['end_date']}  train/test/step = "
            f"{cfg['train_days']}/{cfg['test_days']}/{cfg['step_days']} days, gap {cfg['gap_days']}, "
            f"{cfg['window']}, refit every {cfg['refit_every']}",
            f"model: {cfg['model']}",
            "",
        ]
    unit = "races" if result["domain"] == Domain.RACES else "bars"
    lines += [f"{t['steps']}: {s['total_steps']}", f"{t[unit]}: {s[f'total_{unit}']}", ""]
    if result["domain"] == Domain.RACES:
        rates = ("hit_rate_1st", "hit_rate_top3", "hit_rate_trio")
        lines.append(t["overall"])
        for key in rates:
            lines.append(f"  {t[key]}: {_pct(overall[key])}{_ci(overall[f'{key}_ci'], True)}")
        lines.append(
            f"  {t['avg_score_accuracy']}: {_num(overall['avg_score_accuracy'])}"
            f"{_ci(overall['avg_score_accuracy_ci'], False)}"
        )
        lines.append(f"  {t['log_loss']}: {_num(overall['log_loss'])}{_ci(overall['log_loss_ci'], False)}")
        lines += ["", t["average"]]
        for key in ("hit_rate_1st", "hit_rate_top3"):
            label = t[key]
            lines.append(
                f"  {t['avg_prefix']}{label}: {_pct(averages[key]['value'])}{_ci(averages[key]['ci'], True)}"
            )
        acc = averages["avg_score_accuracy"]
        lines.append(f"  {t['avg_score_accuracy']}: {_num(acc['value'])}{_ci(acc['ci'], False)}")
        lines += ["", t["baselines"]]
        for who, m in result["baselines"].items():
            lines.append(
                f"  {who}: {t['hit_rate_1st']} {_pct(m['hit_rate_1st'])}, {t['hit_rate_top3']} "
                f"{_pct(m['hit_rate_top3'])}, {t['avg_score_accuracy']} {_num(m['avg_score_accuracy'])}"
            )
        if result.get("oracle_share"):
            lines += ["", t["oracle"]]
            for key, share in result["oracle_share"].items():
                lines.append(f"  {t[key]}: {_pct(share['share'])}{_ci([share['low'], share['high']], True)}")
        nf = result["non_finishers"]
        lines += [
            "",
            t["non_finishers"],
            f"  rule: {nf['rule']}",
            f"  did not start: {nf['boats_did_not_start']} boats, "
            f"did not finish: {nf['boats_not_finished']} boats, "
            f"races affected: {nf['races_with_non_finisher']}, void races: {overall['n_void']}",
        ]
    else:
        lines.append(t["overall"])
        lines.append(f"  accuracy: {_pct(overall['accuracy'])}{_ci(overall['accuracy_ci'], True)}")
        for key in ("precision", "recall", "f1", "mcc"):
            lines.append(f"  {key}: {_num(overall[key])}")
        lines.append(
            f"  signal return: mean {_bp(overall['signal_mean_return'])} per bar"
            f"{_ci_bp(overall['signal_mean_return_ci'])}, total {_pct(overall['signal_total_return'])}"
        )
        lines += ["", t["average"]]
        for key, value in averages.items():
            if key == "signal_mean_return":
                lines.append(f"  {t['avg_prefix']}{key}: {_bp(value['value'])}{_ci_bp(value['ci'])}")
            else:
                lines.append(f"  {t['avg_prefix']}{key}: {_num(value['value'])}{_ci(value['ci'], False)}")
        lines += ["", t["baselines"]]
        for who, m in result["baselines"].items():
            lines.append(f"  {who}: accuracy {_pct(m['accuracy'])}, f1 {_num(m['f1'])}, mcc {_num(m['mcc'])}")
    from stagewise.backtest.money_report import money_text

    lines += money_text(result)
    lines += ["", t["guard"]]
    findings = result["guard"]["findings"]
    lines += [f"  ! {f['rule']}: {f['reason']}" for f in findings] or [f"  {t['no_findings']}"]
    if result["guard"].get("permutation"):
        lines.append(f"  permutation check: {result['guard']['permutation']['reason']}")
    lines += ["", t["per_step"]]
    for row in result["steps"]:
        key = "hit_rate_1st" if result["domain"] == Domain.RACES else "accuracy"
        lines.append(
            f"  {row['step']:>3}  test {row['test_start']}..{row['test_end']}"
            f"{' (partial)' if row['partial'] else ''}"
            f"  n={row[f'num_{unit}']}  {key}={_pct(row[key])}"
        )
    return "\n".join(lines) + "\n"


def write_outputs(
    result: dict[str, Any], predictions: pd.DataFrame, output_dir: Path, lang: str, html: bool
) -> dict[str, str]:
    """Write the four outputs into ``output_dir``; return their paths."""
    make_dirs(output_dir)
    paths = {
        "results": output_dir / RESULTS_FILE,
        "report": output_dir / TEXT_FILE,
        "predictions": output_dir / PREDICTIONS_FILE,
    }
    if html:
        paths["html"] = output_dir / HTML_FILE
    result["outputs"] = {k: str(v) for k, v in paths.items()}
    tmp = output_dir / f".{PREDICTIONS_FILE}.{os.getpid()}.tmp"
    predictions.to_parquet(tmp, index=False)
    os.replace(tmp, paths["predictions"])
    _atomic_write(paths["report"], render_text(result, lang).encode("utf-8"))
    if html:
        from stagewise.backtest.html_report import render_html

        _atomic_write(paths["html"], render_html(result).encode("utf-8"))
    text = json.dumps(_clean(result), ensure_ascii=False, indent=2, allow_nan=False)
    _atomic_write(paths["results"], text.encode("utf-8"))
    return result["outputs"]  # type: ignore[no-any-return]


def read_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``walkforward_results.json`` of any known format version."""
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise UnsupportedFormatError(
            f"{path} has format_version {version!r}; this release reads version {FORMAT_VERSION}."
        )
    return data
