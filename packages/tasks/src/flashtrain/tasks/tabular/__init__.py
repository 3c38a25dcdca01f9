"""Tabular classification and regression: models, data classes and the bundled sample table."""

from __future__ import annotations

import os

from flashtrain.tasks.optional import require_extra

require_extra("tabular", "The tabular tasks")  # a clear ImportError naming the extra, before any import fails

from flashtrain.tasks.tabular.backbones import available_tabular_backbones  # noqa: E402
from flashtrain.tasks.tabular.data import TabularClassificationData, TabularRegressionData  # noqa: E402
from flashtrain.tasks.tabular.model import TabularClassifier, TabularRegressor  # noqa: E402

SAMPLE_TABLE = os.path.join(os.path.dirname(__file__), "sample_data", "penguins.csv")
"""Palmer penguins (344 rows; CC0, see sample_data/LICENSE.txt): species, island, sex, four measurements, year."""

__all__ = [
    "SAMPLE_TABLE",
    "TabularClassificationData",
    "TabularClassifier",
    "TabularRegressionData",
    "TabularRegressor",
    "available_tabular_backbones",
]
