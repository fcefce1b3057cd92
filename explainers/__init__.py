"""Attribution methods behind one interface and one explicit registry.

>>> from explainers import EXPLAINERS
>>> EXPLAINERS.names()
['deeplift', 'feature_ablation', 'generation_feature_ablation', 'generation_input_x_gradient',
 'generation_layer_integrated_gradients', 'generation_saliency', 'gradient_shap', 'input_x_gradient',
 'integrated_gradients', 'layer_integrated_gradients', 'lime_tabular', 'lime_text', 'occlusion', 'saliency', 'shap',
 'shap_linear', 'shap_partition_text', 'shap_permutation', 'shap_tree']

The ``generation_*`` methods attribute generated text (``attribute_generation``, docs/generation.md).

Backends are registered as dotted paths and imported on first use, so importing this package does not
import shap, captum or torch.
"""

from __future__ import annotations

from typing import Any

from explainers._base import Explainer, TextExplainer
from explainers._registry import Registry
from explainers._types import Attribution

__all__ = [
    "EXPLAINERS",
    "Attribution",
    "CausalLM",
    "Explainer",
    "GenerationAttribution",
    "TextClassifier",
    "TextExplainer",
    "attribute_generation",
    "get_explainer",
]

EXPLAINERS: Registry[Any] = Registry("explainer")  # classes, imported on first use
EXPLAINERS.register("shap", "explainers._shap_backend:ShapAutoExplainer")
EXPLAINERS.register("shap_tree", "explainers._shap_backend:ShapTreeExplainer")
EXPLAINERS.register("shap_permutation", "explainers._shap_backend:ShapPermutationExplainer")
EXPLAINERS.register("shap_linear", "explainers._shap_backend:ShapLinearExplainer")
EXPLAINERS.register("shap_partition_text", "explainers._shap_backend:ShapPartitionText")
EXPLAINERS.register("lime_tabular", "explainers._lime_backend:LimeTabular")
EXPLAINERS.register("lime_text", "explainers._lime_backend:LimeText")
EXPLAINERS.register("layer_integrated_gradients", "explainers._text_ig:LayerIntegratedGradientsText")
for _name in ("layer_integrated_gradients", "input_x_gradient", "saliency", "feature_ablation"):
    _class = "".join(part.title() for part in _name.split("_"))
    EXPLAINERS.register(f"generation_{_name}", f"explainers._generation:Generation{_class}")
EXPLAINERS.register("integrated_gradients", "explainers._captum_tabular:IntegratedGradientsTabular")
EXPLAINERS.register("saliency", "explainers._captum_tabular:SaliencyTabular")
EXPLAINERS.register("input_x_gradient", "explainers._captum_tabular:InputXGradientTabular")
EXPLAINERS.register("deeplift", "explainers._captum_tabular:DeepLiftTabular")
EXPLAINERS.register("gradient_shap", "explainers._captum_tabular:GradientShapTabular")
EXPLAINERS.register("feature_ablation", "explainers._captum_tabular:FeatureAblationTabular")
EXPLAINERS.register("occlusion", "explainers._captum_tabular:OcclusionTabular")


# Settings every caller may pass; a method that has no use for one ignores it (a text method has no background).
COMMON_SETTINGS = ("background_size", "seed", "target")


def get_explainer(name: str, **settings: Any) -> Any:
    """Instantiate the explainer registered as ``name`` with ``settings``.

    A setting the method does not know is refused with the closest known name (``n_step=8`` never passes
    silently); :data:`COMMON_SETTINGS` are passed only to methods that take them. Returns an :class:`Explainer`
    (tabular), a :class:`TextExplainer` or a generation method (``generation_*``).
    """
    import difflib
    import inspect

    from explainers._errors import ConfigError

    cls = EXPLAINERS.get(name)
    known = set(getattr(cls, "settings_allowed", ()))
    parameters = inspect.signature(cls.__init__).parameters
    takes = {p for p, spec in parameters.items() if spec.kind is spec.KEYWORD_ONLY}
    unknown = sorted(k for k in settings if k not in known and k not in takes and k not in COMMON_SETTINGS)
    if unknown:
        choices = sorted((known | takes) - {"self"})
        close = difflib.get_close_matches(unknown[0], choices, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"Unknown setting {unknown[0]!r} for the {name!r} explainer.{hint} Known settings: "
            f"{', '.join(choices) or '(none)'}."
        )
    accepts_any = any(spec.kind is spec.VAR_KEYWORD for spec in parameters.values())
    passed = {
        k: v for k, v in settings.items() if k in takes or k in known or (accepts_any and k not in COMMON_SETTINGS)
    }
    return cls(**passed)


def __getattr__(name: str) -> Any:  # TextClassifier imports nothing heavy itself, but keep the package light
    if name == "TextClassifier":
        from explainers._text_model import TextClassifier

        return TextClassifier
    if name == "CausalLM":
        from explainers._causal_lm import CausalLM

        return CausalLM
    if name in ("attribute_generation", "GenerationAttribution"):
        from explainers import _generation, _generation_types

        return getattr(_generation, name, None) or getattr(_generation_types, name)
    raise AttributeError(name)
