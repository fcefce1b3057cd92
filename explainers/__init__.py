"""Attribution methods behind one interface and one explicit registry.

>>> from explainers import EXPLAINERS
>>> EXPLAINERS.names()
['shap', 'shap_permutation', 'shap_tree']

Backends are registered as dotted paths and imported on first use, so importing this package does not
import shap, captum or torch.
"""

from __future__ import annotations

from audit._registry import Registry
from explainers._types import Attribution

__all__ = ["EXPLAINERS", "Attribution", "get_explainer"]

EXPLAINERS: Registry = Registry("explainer")
EXPLAINERS.register("shap", "explainers._shap_backend:ShapAutoExplainer")
EXPLAINERS.register("shap_tree", "explainers._shap_backend:ShapTreeExplainer")
EXPLAINERS.register("shap_permutation", "explainers._shap_backend:ShapPermutationExplainer")


def get_explainer(name: str, **settings):
    """Instantiate the explainer registered as ``name`` with ``settings``."""
    return EXPLAINERS.get(name)(**settings)
