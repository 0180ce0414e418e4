"""A/B/n serving: each variant of the served feature's split is answered by its own model and logged under
its own name, every logged row carries the routing feature and the champion's top-pick probability.

The end-to-end tests run ``stagewise serve`` on 127.0.0.1 and read the ledger as the controller does
(``race_outcomes(..., rollout_feature=...)``); the champion's top-pick probability they compare with is what
a second server, with no rollout, answers for the same race.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from serve_support import SMALL, TestClient, race_payloads, request_body
from typer.testing import CliRunner

from process_support import cli_process
from stagewise.cli.main import app as cli
from stagewise.monitor import PerformanceMonitor, RacePrediction, SignalPrediction
from stagewise.monitor.records import LedgerRecord
from stagewise.rollout import GradualRollout
from stagewise.serve import ServeSettings, create_app
from stagewise.serve.logging_queue import Kind

FEATURE = "calib"
SPLIT = {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}
FIRST, LAST = date(2025, 3, 1), date(2025, 3, 31)


def _mapped(versions: dict[str, str]) -> dict[str, str]:
    """The model version that answers each group: the champion answers control."""
    return {"control": versions["champion"], "a": versions["challenger"], **{v: versions[v] for v in "bc"}}


def _race_model(root: Path, seed: int) -> str:
    """One more race model in the registry (a different seed: a different version and different scores)."""
    from stagewise.data import simulate_races
    from stagewise.features.races import race_entry_features
    from stagewise.models import ModelRegistry, ProductionEnsemble

    races = simulate_races("2025-01-01", "2025-01-03", seed=0, venues=[1, 2])
    y = (races["finish_position"] == 1).fillna(False).astype(int)
    model = ProductionEnsemble(random_state=seed, lgbm_params=SMALL, xgb_params=SMALL, rf_params=SMALL)
    return ModelRegistry(root).save(model.fit(race_entry_features(races), y))


@pytest.fixture(scope="module")
def abn_registry(
    built_registry: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str]]:
    """The serve registry plus two race models: b (alias ``variant-b``) and c (by version id)."""
    from stagewise.models import ModelRegistry

    root = tmp_path_factory.mktemp("abn") / "models"
    shutil.copytree(built_registry[0], root)
    versions = dict(built_registry[1])
    versions["b"], versions["c"] = _race_model(root, 3), _race_model(root, 4)
    ModelRegistry(root).set_alias("variant-b", versions["b"])
    return root, versions


def _split_rollout(config: Path, stage: str = "60%", split: dict[str, float] | None = None) -> GradualRollout:
    rollout = GradualRollout(config, actor="test", refresh_interval=0)
    rollout.add_feature(FEATURE, stage, reason="A/B/n test")
    rollout.set_variants(FEATURE, split or SPLIT, reason="A/B/n test")
    return rollout


class Recorder:
    """A sink that keeps the records the server logs."""

    def __init__(self) -> None:
        self.records: list[LedgerRecord] = []

    def write(self, kind: Kind, rows: Sequence[LedgerRecord]) -> None:
        self.records.extend(rows)


def _champion_top_pick(root: Path, tmp_path: Path, payloads: list[dict[str, Any]]) -> dict[str, float]:
    """What the champion alone answers for each race: the win probability of its top pick."""
    alone = ServeSettings(
        models_dir=str(root), db_url=f"sqlite:///{tmp_path / 'alone.db'}", feature="no_such_feature",
        rollout_config=str(tmp_path / "alone" / "rollout_config.json"), challenger_ref=None, market_ref=None,
    )  # fmt: skip
    with TestClient(create_app(alone, sink=Recorder(), admin_token=None)) as client:
        answers = [client.post("/v1/races/predict", json=request_body(p)).json() for p in payloads]
    assert {a["model"]["role"] for a in answers} == {"champion"}
    return {a["race_id"]: a["boats"][0]["win_prob"] for a in answers}


def test_a_three_variant_split_serves_each_variant_by_its_model_and_logs_its_name(
    abn_registry: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, versions = abn_registry
    config = tmp_path / "config" / "rollout_config.json"
    rollout = _split_rollout(config)
    db_url = f"sqlite:///{tmp_path / 'ledger' / 'monitor.db'}"
    payloads = race_payloads(300, prefix="abn-")
    args = [
        "--models", str(root), "--db", db_url, "--config", str(config), "--feature", FEATURE,
        "--variant", "a=challenger", "--variant", "b=variant-b", "--variant", f"c={versions['c']}",
    ]  # fmt: skip
    with (
        cli_process(["serve", *args], health="/healthz") as (base, _),
        httpx.Client(base_url=base, timeout=30.0) as http,
    ):
        assert http.get("/readyz").status_code == 200

        def predict(p: dict[str, Any]) -> dict[str, Any]:
            response = http.post("/v1/races/predict", json=request_body(p))
            assert response.status_code == 200, response.text
            answer: dict[str, Any] = response.json()
            return answer

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(predict, payloads))
        predictions = {
            (s.labels["variant"], s.labels["model_version"]): s.value
            for family in text_string_to_metric_families(http.get("/metrics").text)
            if family.name == "stagewise_predictions"
            for s in family.samples
            if s.labels["mode"] == "answered" and s.name.endswith("_total")
        }
    # the server drained its queue on the way out: the ledger holds every answer
    mapped = {
        "control": versions["champion"],
        "a": versions["challenger"],
        "b": versions["b"],
        "c": versions["c"],
    }
    expected = {p["race_id"]: rollout.variant(FEATURE, p["race_id"]) for p in payloads}
    for answer in answers:
        variant = expected[answer["race_id"]]
        assert answer["model"] == {
            "role": "champion" if variant == "control" else "variant",
            "version": mapped[variant],
            "variant": variant,
        }
    with PerformanceMonitor(db_url, notifiers=[]) as monitor:
        rows = monitor.race_outcomes(FIRST, LAST, rollout_feature=FEATURE)
    assert sorted(rows["race_id"]) == sorted(expected)
    assert dict(zip(rows["race_id"], rows["variant"], strict=True)) == expected
    assert {v: set(rows.loc[rows["variant"] == v, "model_version"]) for v in mapped} == {
        v: {version} for v, version in mapped.items()
    }
    counts = rows["variant"].value_counts().to_dict()
    assert 80 <= counts["control"] <= 160  # 40 % of 300, within sampling error
    assert all(40 <= counts[v] <= 80 for v in SPLIT)  # 20 % each
    assert set(rows["rollout_feature"]) == {FEATURE}
    top_pick = _champion_top_pick(root, tmp_path, payloads)
    assert dict(zip(rows["race_id"], rows["covariate"], strict=True)) == pytest.approx(top_pick, rel=1e-12)
    assert predictions == {(v, mapped[v]): float(n) for v, n in counts.items()}


def test_shadow_rows_and_market_signals_carry_the_feature_and_the_champions_covariate(
    abn_registry: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, versions = abn_registry
    config = tmp_path / "config" / "rollout_config.json"
    rollout = GradualRollout(config, actor="test")
    rollout.add_feature(FEATURE, "50%", reason="shadow test")
    db_url = f"sqlite:///{tmp_path / 'ledger' / 'monitor.db'}"
    payloads = race_payloads(40, prefix="shadow-")
    features = {name: 0.5 for name in _feature_names()}
    args = ["--models", str(root), "--db", db_url, "--config", str(config), "--feature", FEATURE, "--shadow"]
    with (
        cli_process(["serve", *args], health="/healthz") as (base, _),
        httpx.Client(base_url=base, timeout=30.0) as http,
    ):
        for p in payloads:
            assert http.post("/v1/races/predict", json=request_body(p)).status_code == 200
        bar = {"symbol": "EURUSD", "timestamp": "2025-03-02T10:00:00Z", "features": features}
        market = http.post("/v1/markets/predict", json=bar)
        assert market.status_code == 200, market.text
    with PerformanceMonitor(db_url, notifiers=[]) as monitor:
        rows = monitor.race_outcomes(FIRST, LAST, rollout_feature=FEATURE)
        signals = monitor.market_outcomes(FIRST, LAST, rollout_feature=FEATURE)
    assert len(rows) == 80  # every race twice: the answer and the other model's shadow row
    assert set(rows["variant"]) == {"on", "control", "shadow"}
    assert set(rows["model_version"]) == {versions["champion"], versions["challenger"]}
    assert set(rows["rollout_feature"]) == {FEATURE}
    top_pick = _champion_top_pick(root, tmp_path, payloads)
    for race_id, covariates in rows.groupby("race_id")["covariate"]:
        assert covariates.tolist() == pytest.approx([top_pick[race_id]] * 2, rel=1e-12)
    assert signals[["rollout_feature", "variant"]].values.tolist() == [[FEATURE, "control"]]
    assert signals["covariate"].tolist() == [market.json()["probability"]]


def _feature_names() -> tuple[str, ...]:
    from stagewise.features.technical import FEATURE_NAMES

    return tuple(FEATURE_NAMES)


runner = CliRunner(env={"COLUMNS": "200"})


@pytest.mark.parametrize(
    ("variants", "expected"),
    [
        pytest.param(
            ["a=challenger", "b=variant-b"],
            "ConfigError: variant 'c' of rollout feature 'calib' has no model: map one with `--variant c=",
            id="a-variant-without-a-model",
        ),
        pytest.param(
            ["a=challenger", "b=variant-b", "c=variant-b", "d=challenger"],
            "ConfigError: --variant d=challenger names no variant of rollout feature 'calib' "
            "(its variants are ['a', 'b', 'c'])",
            id="a-model-for-no-variant",
        ),
        pytest.param(
            ["a=challenger", "b=variant-b", "c=no-such-alias"],
            "ConfigError: --variant c=no-such-alias: ",
            id="an-unknown-ref",
        ),
        pytest.param(["a"], "ConfigError: --variant must be NAME=REF", id="not-name-equals-ref"),
        pytest.param(
            ["a=challenger", "a=variant-b"], "ConfigError: --variant names variant 'a' twice", id="twice"
        ),
        pytest.param(
            ["control=challenger"],
            "ConfigError: --variant control=challenger: 'control' is a rollout group",
            id="named-control",
        ),
    ],
)
def test_a_variant_mapping_that_does_not_fit_the_split_is_refused_in_one_line(
    abn_registry: tuple[Path, dict[str, str]], tmp_path: Path, variants: list[str], expected: str
) -> None:
    config = tmp_path / "config" / "rollout_config.json"
    _split_rollout(config)
    options = [option for v in variants for option in ("--variant", v)]
    args = ["serve", "--models", str(abn_registry[0]), "--config", str(config), "--feature", FEATURE]
    result = runner.invoke(cli, [*args, *options, "--db", f"sqlite:///{tmp_path / 'monitor.db'}"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(expected), result.output
    assert not (tmp_path / "monitor.db").exists()  # nothing started


def test_a_mapping_for_a_feature_without_a_split_is_refused(
    abn_registry: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    config = tmp_path / "config" / "rollout_config.json"
    GradualRollout(config, actor="test").add_feature(FEATURE, "50%", reason="no split")
    args = ["serve", "--models", str(abn_registry[0]), "--config", str(config), "--feature", FEATURE]
    result = runner.invoke(cli, [*args, "--variant", "a=challenger"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "ConfigError: --variant a=challenger names no variant of rollout feature 'calib' (it has no variants "
        "split); split the feature with `stagewise rollout variants calib a=WEIGHT ...` or drop the option."
    )


@pytest.fixture
def abn_settings(abn_registry: tuple[Path, dict[str, str]], tmp_path: Path) -> Callable[..., ServeSettings]:
    def make(**overrides: Any) -> ServeSettings:
        values: dict[str, Any] = {
            "models_dir": str(abn_registry[0]), "db_url": f"sqlite:///{tmp_path / 'monitor.db'}",
            "rollout_config": str(tmp_path / "config" / "rollout_config.json"), "feature": FEATURE,
            "reload_interval_s": 0.2, "flush_interval_s": 0.01,
        }  # fmt: skip
        return ServeSettings(**{**values, **overrides})

    return make


def test_create_app_refuses_a_split_variant_without_a_model(
    abn_settings: Callable[..., ServeSettings],
) -> None:
    from stagewise import ConfigError

    settings = abn_settings(variants={"a": "challenger", "b": "variant-b"})
    _split_rollout(Path(settings.rollout_config))
    with pytest.raises(ConfigError, match=r"^variant 'c' of rollout feature 'calib' has no model"):
        create_app(settings, sink=Recorder(), admin_token=None)


def test_a_split_added_while_serving_without_models_is_answered_by_the_champion_as_control(
    abn_settings: Callable[..., ServeSettings], abn_registry: tuple[Path, dict[str, str]]
) -> None:
    import time

    settings = abn_settings()
    rollout = GradualRollout(settings.rollout_config, actor="test", refresh_interval=0)
    rollout.add_feature(FEATURE, "100%", reason="all on")
    sink = Recorder()
    payloads = race_payloads(6, prefix="reload-")
    with TestClient(create_app(settings, sink=sink, admin_token=None)) as client:
        assert client.get("/readyz").status_code == 200
        rollout.set_variants(FEATURE, {"x": 0.5, "y": 0.5}, reason="split with no model mapped")
        time.sleep(0.5)  # past the server's config refresh
        ready = client.get("/readyz")
        answers = [client.post("/v1/races/predict", json=request_body(p)).json() for p in payloads]
    assert ready.status_code == 503
    reasons = ready.json()["reasons"]
    assert any(
        r.startswith("variant 'x' of rollout feature 'calib' has no model: not mapped") for r in reasons
    )
    assert {(a["model"]["role"], a["model"]["variant"]) for a in answers} == {("champion", "control")}
    assert {r.variant for r in sink.records} == {"control"}
    assert {r.model_version for r in sink.records} == {abn_registry[1]["champion"]}


@pytest.fixture(scope="module")
def split_app(
    abn_registry: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, Recorder, GradualRollout, dict[str, str]]]:
    root, versions = abn_registry
    home = tmp_path_factory.mktemp("property")
    rollout = _split_rollout(home / "config" / "rollout_config.json", stage="50%")
    settings = ServeSettings(
        models_dir=str(root), db_url=f"sqlite:///{home / 'monitor.db'}", feature=FEATURE,
        rollout_config=str(home / "config" / "rollout_config.json"), flush_interval_s=0.01,
        variants={"a": "challenger", "b": "variant-b", "c": versions["c"]},
    )  # fmt: skip
    sink = Recorder()
    mapped = {
        "control": versions["champion"],
        "a": versions["challenger"],
        "b": versions["b"],
        "c": versions["c"],
    }
    with TestClient(create_app(settings, sink=sink, admin_token=None)) as client:
        yield client, sink, rollout, mapped


RACE_IDS = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64)
ONE_RACE = race_payloads(1, prefix="prop-")[0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(race_id=RACE_IDS)
def test_the_logged_variant_is_the_rollouts_variant_for_any_race_id(
    split_app: tuple[TestClient, Recorder, GradualRollout, dict[str, str]], race_id: str
) -> None:
    client, sink, rollout, mapped = split_app
    answer = client.post("/v1/races/predict", json={**request_body(ONE_RACE), "race_id": race_id})
    assert answer.status_code == 200, answer.text
    client.app.state.service.queue.flush(timeout=5.0)  # type: ignore[attr-defined]
    logged = [r for r in sink.records if isinstance(r, RacePrediction) and r.race_id == race_id][-1]
    variant = rollout.variant(FEATURE, race_id)
    assert (logged.variant, logged.model_version, logged.rollout_feature) == (
        variant,
        mapped[variant],
        FEATURE,
    )
    assert answer.json()["model"]["variant"] == variant
    assert not any(isinstance(r, SignalPrediction) for r in sink.records)
