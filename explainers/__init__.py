"""Attribution methods behind one interface and one explicit registry.

>>> from explainers import EXPLAINERS
>>> EXPLAINERS.names()
['deeplift', 'feature_ablation', 'gradient_shap', 'input_x_gradient', 'integrated_gradients',
 'layer_integrated_gradients', 'lime_tabular', 'lime_text', 'occlusion', 'saliency', 'shap', 'shap_linear',
 'shap_partition_text', 'shap_permutation', 'shap_tree']

Backends are registered as dotted paths and imported on first use, so importing this package does not
import shap, captum or torch.
"""

from __future__ import annotations

from audit._registry import Registry
from explainers._types import Attribution

__all__ = ["EXPLAINERS", "Attribution", "TextClassifier", "get_explainer"]

EXPLAINERS: Registry = Registry("explainer")
EXPLAINERS.register("shap", "explainers._shap_backend:ShapAutoExplainer")
EXPLAINERS.register("shap_tree", "explainers._shap_backend:ShapTreeExplainer")
EXPLAINERS.register("shap_permutation", "explainers._shap_backend:ShapPermutationExplainer")
EXPLAINERS.register("shap_linear", "explainers._shap_backend:ShapLinearExplainer")
EXPLAINERS.register("shap_partition_text", "explainers._shap_backend:ShapPartitionText")
EXPLAINERS.register("lime_tabular", "explainers._lime_backend:LimeTabular")
EXPLAINERS.register("lime_text", "explainers._lime_backend:LimeText")
EXPLAINERS.register("layer_integrated_gradients", "explainers._text_ig:LayerIntegratedGradientsText")
for _name in ("integrated_gradients", "saliency", "input_x_gradient", "deeplift", "gradient_shap",
              "feature_ablation", "occlusion"):
    EXPLAINERS.register(_name, f"explainers._captum_tabular:{_name}")


def get_explainer(name: str, **settings):
    """Instantiate the explainer registered as ``name`` with ``settings``."""
    return EXPLAINERS.get(name)(**settings)


def __getattr__(name: str):  # TextClassifier imports nothing heavy itself, but keep the package light
    if name == "TextClassifier":
        from explainers._text_model import TextClassifier

        return TextClassifier
    raise AttributeError(name)
