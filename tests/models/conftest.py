"""Small, fast data and models shared by the models suites."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from models_support import TINY, make_xy

from stagewise.models import ProductionEnsemble


@pytest.fixture(scope="session")
def market_xy() -> tuple[pd.DataFrame, np.ndarray]:
    return make_xy()


@pytest.fixture(scope="session")
def fitted(market_xy: tuple[pd.DataFrame, np.ndarray]) -> ProductionEnsemble:
    X, y = market_xy
    return ProductionEnsemble(**TINY).fit(X, y)
