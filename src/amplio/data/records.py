"""Values read from tables or the database, as plain JSON data."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def plain(value: Any) -> Any:
    """``value`` as plain JSON data: numpy scalars as Python numbers, timestamps as ISO strings,
    NaN and NA as ``None``."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value
