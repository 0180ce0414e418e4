"""The Streamlit dashboard: accuracy trends, alerts, rollout stages, backtests, drift, the registry.

Start it with ``stagewise dashboard`` (see ``docs/dashboard.md``). :mod:`stagewise.dashboard.data`
holds the loaders (testable without Streamlit), :mod:`stagewise.dashboard.charts` the plotly
figures, and ``app.py`` the Streamlit script that lays them out. Importing this package does not
import Streamlit.
"""

from __future__ import annotations
