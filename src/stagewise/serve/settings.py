"""Settings of the prediction server: one validated, JSON-serialisable object.

The CLI builds a :class:`ServeSettings` from its options; with ``--workers N`` it is handed
to every uvicorn worker through the environment variable :data:`SETTINGS_ENV` (JSON), so
every worker serves with exactly the same settings. The admin token is *not* a setting: it
is read from ``STAGEWISE_ADMIN_TOKEN`` so it never lands in a file or a process list.
"""

from __future__ import annotations

import json
import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from stagewise._exceptions import ConfigError

__all__ = ["ADMIN_TOKEN_ENV", "SETTINGS_ENV", "ServeSettings", "settings_from_env"]

SETTINGS_ENV = "STAGEWISE_SERVE_SETTINGS"
ADMIN_TOKEN_ENV = "STAGEWISE_ADMIN_TOKEN"


class ServeSettings(BaseModel):
    """What one server process needs to know; every field has a safe default.

    Examples
    --------
    >>> s = ServeSettings(models_dir="models", db_url="sqlite:///data/monitor.db", shadow=True)
    >>> s.feature, s.reload_interval_s, s.shadow
    ('challenger_model', 5.0, True)
    >>> ServeSettings.model_validate_json(s.model_dump_json()) == s
    True
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    models_dir: str = Field("models", description="ModelRegistry root holding the champion/challenger.")
    db_url: str | None = Field(None, description="Monitor ledger URL (default sqlite:///data/monitor.db).")
    rollout_config: str = Field(
        "config/rollout_config.json", description="Rollout config: the seed's JSON file or a SQLAlchemy URL."
    )
    feature: str = Field("challenger_model", min_length=1, description="Rollout feature that routes races.")
    shadow: bool = Field(False, description="Score every race with both models; the routed one answers.")
    champion_ref: str = Field("champion", min_length=1)
    challenger_ref: str | None = Field("challenger", description="None: no challenger is ever loaded.")
    market_ref: str | None = Field("market", description="Registry alias of the market model (optional).")
    variants: dict[str, str] = Field(
        default_factory=dict,
        description="A/B/n: each variant of the feature's split -> registry ref of the model that answers "
        "its races (docs/serving.md); must name exactly the split's variants.",
    )
    reload_interval_s: float = Field(5.0, gt=0, description="Seconds between model-alias and config checks.")
    queue_max: int = Field(100_000, ge=1, description="Predictions held in memory before shedding.")
    batch_size: int = Field(500, ge=1, description="Ledger rows per insert.")
    flush_interval_s: float = Field(0.05, gt=0, description="Longest wait to fill a batch.")
    retry_max_backoff_s: float = Field(5.0, gt=0, description="Longest pause between ledger retries.")
    drain_timeout_s: float = Field(30.0, ge=0, description="Time allowed to write the backlog at shutdown.")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Larger request bodies get 413.")
    max_bars: int = Field(5_000, ge=50, description="Most bars accepted by /v1/markets/predict.")
    signature_errors: Literal["detailed", "private"] = Field(
        "detailed",
        description="'private': a 422 for input that breaks a model's signature names no feature or rule "
        "unless the request carries the admin token.",
    )

    @field_validator("variants")
    @classmethod
    def _variant_names(cls, value: dict[str, str]) -> dict[str, str]:
        # the rollout's own names of the groups without a split (imported here: only a variants mapping pays)
        from stagewise.rollout.gradual import CONTROL_VARIANT, ENABLED_VARIANT

        reserved = (CONTROL_VARIANT, ENABLED_VARIANT)
        for name, ref in value.items():
            if not name.strip() or len(name) > 64 or name.strip() in reserved:
                raise ValueError(
                    f"a variant name must be a non-empty str of at most 64 characters other than "
                    f"{reserved[0]!r} and {reserved[1]!r}; got {name!r}"
                )
            if not ref.strip():
                raise ValueError(f"variant {name!r} needs a registry alias or version; got {ref!r}")
        return value


def settings_from_env(environ: dict[str, str] | None = None) -> ServeSettings:
    """The settings a worker was started with (``STAGEWISE_SERVE_SETTINGS``), else the defaults."""
    env = os.environ if environ is None else environ
    raw = env.get(SETTINGS_ENV)
    if not raw:
        return ServeSettings()
    try:
        data: Any = json.loads(raw)
        return ServeSettings.model_validate(data)
    except (ValueError, ValidationError) as exc:
        raise ConfigError(f"{SETTINGS_ENV} must hold ServeSettings as JSON; {exc}") from None
