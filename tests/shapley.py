"""Brute-force interventional Shapley values: the oracle for exact tree SHAP (every coalition of features, the model
called on each hybrid row)."""

from __future__ import annotations

import itertools
import math
from typing import Callable

import numpy as np


def brute_force_shapley(
    output: Callable[[np.ndarray], np.ndarray], row: np.ndarray, background: np.ndarray
) -> np.ndarray:
    """Shapley values of v(S) = mean over ``background`` of ``output`` on (``row`` on S, the background row
    elsewhere)."""
    d = len(row)
    value = {
        members: float(np.mean(output(np.where(np.array(members), row, background))))
        for members in itertools.product([False, True], repeat=d)
    }
    phi = np.zeros(d)
    for members, v in value.items():
        size = sum(members)
        for i in range(d):
            if not members[i]:
                weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
                phi[i] += weight * (value[members[:i] + (True,) + members[i + 1 :]] - v)
    return phi
