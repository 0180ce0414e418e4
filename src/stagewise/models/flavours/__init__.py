"""Model flavours: any supported model stored without pickle, with a typed input signature.

See docs/flavours.md. A flavour wraps one kind of model (a scikit-learn estimator or Pipeline,
one LightGBM or XGBoost model, the ProductionEnsemble, the race win + place model, a weighted
blend) behind one contract: ``fit`` / ``predict_proba`` (which enforces ``signature_``),
``to_files()`` / ``from_files()``.
"""

from __future__ import annotations

from stagewise.models.flavours._base import FLAVOUR_FILE, FORMAT_VERSION, Flavour, FlavourFiles, flavour_names
from stagewise.models.flavours.boosters import LightGBMFlavour, XGBoostFlavour
from stagewise.models.flavours.calibrated import CalibratedFlavour
from stagewise.models.flavours.composite import BlendFlavour, RaceFlavour
from stagewise.models.flavours.ensemble import EnsembleFlavour
from stagewise.models.flavours.signature import FeatureSpec, InputSignature
from stagewise.models.flavours.sklearn import SklearnFlavour
from stagewise.models.flavours.store import as_flavour, dump_version, load_version

__all__ = [
    "FLAVOUR_FILE",
    "FORMAT_VERSION",
    "BlendFlavour",
    "CalibratedFlavour",
    "EnsembleFlavour",
    "FeatureSpec",
    "Flavour",
    "FlavourFiles",
    "InputSignature",
    "LightGBMFlavour",
    "RaceFlavour",
    "SklearnFlavour",
    "XGBoostFlavour",
    "as_flavour",
    "dump_version",
    "flavour_names",
    "load_version",
]
