"""The studies of one search in the storage: a head study holding the settings, one per step.

``<name>`` (the head, no trials) keeps the fingerprint of the space and settings;
``<name>:outer-000`` ... hold each outer step's trials, ``<name>:final`` the newest window's
(the configuration to register) and ``<name>:naive`` the naive best-of-N search. Opening a
search whose head has another fingerprint is refused unless ``new_study``, which deletes the
old studies of that name first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stagewise._exceptions import ConfigError

if TYPE_CHECKING:
    import optuna

    from stagewise.search.space import SearchSpace

__all__ = ["StudyNames", "fingerprint", "open_studies", "study_names"]


@dataclass(frozen=True)
class StudyNames:
    """The head study and its step studies (the last step is the final window)."""

    head: str
    steps: tuple[str, ...]
    naive: str
    with_naive: bool = True

    @property
    def studies(self) -> tuple[str, ...]:
        """Every study that holds trials: the steps', then the naive one's when the search runs it."""
        return (*self.steps, self.naive) if self.with_naive else self.steps


def study_names(name: str, n_steps: int, naive: bool = True) -> StudyNames:
    if not isinstance(name, str) or not name or ":" in name:
        raise ConfigError(
            f"The 'study_name' parameter (--study-name) must be a non-empty name without ':'. Got {name!r} "
            "instead."
        )
    steps = (*(f"{name}:outer-{i:03d}" for i in range(n_steps - 1)), f"{name}:final")
    return StudyNames(name, steps, f"{name}:naive", naive)


def fingerprint(config: Mapping[str, Any]) -> str:
    """SHA-256 of the settings that decide what a trial computes."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def open_studies(
    storage: optuna.storages.BaseStorage,
    names: StudyNames,
    config: Mapping[str, Any],
    space: SearchSpace,
    new_study: bool,
) -> None:
    """Create the studies, or check that the stored ones were made with the same space and settings."""
    import optuna

    existing = {s.study_name for s in storage.get_all_studies()}
    print_config = json.loads(json.dumps(config, default=str))
    if names.head in existing:
        head = optuna.load_study(study_name=names.head, storage=storage)
        stored = head.user_attrs.get("fingerprint")
        if stored != fingerprint(config) and not new_study:
            old = head.user_attrs.get("config", {})
            changed = _differences(old, print_config)
            what = "search space" if changed == ["space"] else f"settings ({', '.join(changed) or 'format'})"
            raise ConfigError(
                f"The study {names.head!r} in the storage was made with a different {what}: pass --new-study "
                "to delete it and start again, or --study-name to keep both."
            )
    if new_study:
        for name in sorted(existing):
            if name == names.head or name.startswith(f"{names.head}:"):
                optuna.delete_study(study_name=name, storage=storage)
        existing = set()
    if names.head not in existing:
        # load_if_exists: another process or host may be creating the same search right now
        head = optuna.create_study(
            study_name=names.head, storage=storage, direction="maximize", load_if_exists=True
        )
        head.set_user_attr("fingerprint", fingerprint(config))
        head.set_user_attr("config", print_config)
        head.set_user_attr("space_fingerprint", space.fingerprint())
    for name in names.studies:
        optuna.create_study(study_name=name, storage=storage, direction="maximize", load_if_exists=True)
