"""Item 12 at the server: ``/readyz`` says the rollout config no longer matches its audit chain, and
the admin routes refuse to write over the hand edit unless the request acknowledges it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from serve_support import TOKEN, TestClient

from stagewise.rollout import GradualRollout
from stagewise.serve import ServeSettings, create_app

ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def _hand_edit(config: Path) -> None:
    document = json.loads(config.read_text(encoding="utf-8"))
    document["feature_rollouts"]["challenger_model"]["salt"] = "edited-by-hand"
    config.write_text(json.dumps(document), encoding="utf-8")


def test_readyz_reports_a_hand_edit_and_the_admin_write_needs_an_acknowledgement(
    make_settings: Callable[..., ServeSettings],
) -> None:
    settings = make_settings()
    config = Path(settings.rollout_config)
    GradualRollout(config, actor="ops").add_feature("challenger_model", "10%", reason="canary")
    with TestClient(create_app(settings, admin_token=TOKEN)) as client:
        clean = client.get("/readyz").json()
        assert clean["warnings"] == []
        assert clean["rollout"]["manual_edit"] is None
        _hand_edit(config)
        client.app.state.service.rollout.refresh(force=True)  # type: ignore[attr-defined]
        answer = client.get("/readyz")
        assert answer.status_code == 200  # still serving: a hand edit is reported, not an outage
        body = answer.json()
        assert body["rollout"]["manual_edit"]["seq"] == 1
        assert any("no longer matches its audit chain" in w and str(config) in w for w in body["warnings"])

        before = config.read_bytes()
        refused = client.post("/admin/stage", json={"stage": "50%", "reason": "canary"}, headers=ADMIN)
        assert refused.status_code == 422
        assert "accept_manual_edit=True" in refused.json()["message"]
        assert config.read_bytes() == before

        accepted = client.post(
            "/admin/stage",
            json={"stage": "50%", "reason": "salt moved on purpose", "accept_manual_edit": True},
            headers=ADMIN,
        )
        assert accepted.status_code == 200, accepted.text
        assert client.get("/readyz").json()["warnings"] == []
    actions = [(e["action"], e["actor"]) for e in GradualRollout(config).audit_log()]
    assert actions[-2:] == [("accept_manual_edit", "api"), ("set_stage", "api")]
    assert GradualRollout(config).feature("challenger_model").salt == "edited-by-hand"
