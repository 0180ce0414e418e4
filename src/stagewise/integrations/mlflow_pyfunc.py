"""The MLflow *models-from-code* pyfunc that serves a stagewise version from its own files.

:func:`stagewise.integrations.mlflow.export_version` logs this file as the model's code
(``python_model=<this file>``) and the version's directory as an artifact, so MLflow stores
no pickle: loading runs this file, which verifies the version's manifest and rebuilds the model
from LightGBM/XGBoost native files, JSON and audited skops files. Never import it yourself:
executing it registers the model with ``mlflow.models.set_model``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.models
import mlflow.pyfunc
import numpy as np

ARTIFACT_KEY = "stagewise_version"


class StagewisePyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """``predict`` returns P(class 1) per row, bit-identical to the flavour's ``predict_proba``."""

    def load_context(self, context: Any) -> None:
        from stagewise.models.flavours.store import load_version
        from stagewise.models.manifest import read_verified

        directory = Path(context.artifacts[ARTIFACT_KEY])
        config = context.model_config or {}
        files = read_verified(directory, directory.name)
        self.flavour = load_version(files, trusted_types=tuple(config.get("trusted_types", ())))

    def predict(self, context: Any, model_input: Any, params: Any = None) -> np.ndarray:
        return np.asarray(self.flavour.predict_proba(model_input)[:, 1], dtype=np.float64)


mlflow.models.set_model(StagewisePyfunc())
