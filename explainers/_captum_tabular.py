"""captum gradient and perturbation methods for torch tabular models, run on the model's own device.

The attributed output is the positive-class probability (sigmoid of a single logit, softmax column 1 of
two). Baselines are the mean of the background rows (GradientShap samples the background itself).
Completeness is checked where the method promises it: the convergence delta of Integrated Gradients,
DeepLift and GradientShap (for GradientShap it holds only in expectation).
"""

from __future__ import annotations

import time

import numpy as np

from explainers._errors import CapabilityError, DataError
from explainers._base import Explainer
from explainers._types import Attribution

__all__ = [
    "CaptumTabular",
    "METHODS",
    "IntegratedGradientsTabular",
    "SaliencyTabular",
    "InputXGradientTabular",
    "DeepLiftTabular",
    "GradientShapTabular",
    "FeatureAblationTabular",
    "OcclusionTabular",
]

# name -> (captum class, settings for attribute(), returns a convergence delta)
METHODS = {
    "integrated_gradients": ("IntegratedGradients", {"n_steps": 50}, True),
    "saliency": ("Saliency", {"abs": False}, False),
    "input_x_gradient": ("InputXGradient", {}, False),
    "deeplift": ("DeepLift", {}, True),
    "gradient_shap": ("GradientShap", {"n_samples": 20, "stdevs": 0.0}, True),
    "feature_ablation": ("FeatureAblation", {}, False),
    "occlusion": ("Occlusion", {"sliding_window_shapes": (1,)}, False),
}
# the attribute() settings each method takes besides its defaults (captum's documented keyword arguments)
_EXTRA_SETTINGS = {
    "integrated_gradients": ("method", "internal_batch_size"),
    "deeplift": ("multiply_by_inputs",),
    "feature_ablation": ("perturbations_per_eval",),
    "occlusion": ("strides", "perturbations_per_eval"),
}
_USES_BASELINE = {"integrated_gradients", "deeplift", "gradient_shap", "feature_ablation", "occlusion"}


def _allowed(name: str) -> frozenset[str]:
    """The attribute() settings a method takes: its defaults' names and captum's other documented ones."""
    return frozenset(METHODS[name][1]) | frozenset(_EXTRA_SETTINGS.get(name, ()))


def positive_probability(model, inputs, output_space: str = "probability"):
    import torch

    output = model(inputs)
    if output.ndim == 2 and output.shape[1] == 2:
        probability = torch.softmax(output, -1)[:, 1]
        return probability if output_space == "probability" else torch.logit(probability)
    if output.ndim == 2 and output.shape[1] == 1:
        output = output[:, 0]
    if output.ndim != 1:
        raise CapabilityError(
            f"captum backends explain binary models with outputs (n,), (n, 1) or (n, 2). Got {tuple(output.shape)}."
        )
    return torch.sigmoid(output) if output_space == "probability" else output


class CaptumTabular(Explainer):
    """One captum method (``method``) on a torch tabular model; settings pass through to ``attribute()``. The
    registered methods are the subclasses below, one per captum class."""

    requires = frozenset({"gradients"})
    method = name = "integrated_gradients"
    settings_allowed = _allowed("integrated_gradients")

    def __init__(
        self,
        *,
        background_size: int = 100,
        seed: int = 0,
        batch_size: int = 1024,
        output: str = "probability",
        **settings,
    ) -> None:
        super().__init__(background_size=background_size, seed=seed, **settings)
        if output not in ("probability", "logit"):
            raise DataError(f"The 'output' parameter must be 'probability' or 'logit'. Got {output!r} instead.")
        self.batch_size, self.output = batch_size, output

    def explain(self, adapter, rows, *, background, row_ids):
        import captum.attr
        import torch

        self.check(adapter)
        if adapter.kind != "torch":
            raise CapabilityError(f"{self.name} needs a torch model; this is a {adapter.kind} model.")
        started = time.perf_counter()
        class_name, defaults, has_delta = METHODS[self.method]
        model, device = adapter.model, torch.device(adapter.device)
        inputs_all = adapter.tensor(rows).to(device)
        reference = adapter.tensor(background).to(device)
        if not torch.all(torch.isfinite(inputs_all)):
            raise DataError(f"{self.name} needs finite numeric inputs; the rows hold NaN or infinity.")
        was_training = model.training
        model.eval()
        forward = lambda x: positive_probability(model, x, self.output)  # noqa: E731
        # DeepLift needs a module (it hooks the nonlinearities); the others take the function
        method = getattr(captum.attr, class_name)(
            _probability_module(model, self.output) if self.method == "deeplift" else forward
        )
        settings = {**defaults, **self.settings}
        values, deltas = [], []
        try:
            for start in range(0, len(inputs_all), self.batch_size):
                inputs = inputs_all[start : start + self.batch_size]
                kwargs = dict(settings)
                if self.method in _USES_BASELINE:
                    kwargs["baselines"] = (
                        reference
                        if self.method == "gradient_shap"
                        else reference.mean(0, keepdim=True).expand_as(inputs)
                    )
                if has_delta:
                    attribution, delta = method.attribute(inputs, return_convergence_delta=True, **kwargs)
                    deltas.append(delta.detach().reshape(len(inputs), -1).mean(-1).abs().cpu().numpy())
                else:
                    attribution = method.attribute(inputs, **kwargs)
                values.append(attribution.detach().float().cpu().numpy())
            with torch.inference_mode():
                outputs = forward(inputs_all).float().cpu().numpy()
                base = float(forward(reference.mean(0, keepdim=True)).float().cpu().numpy()[0])
        finally:
            model.train(was_training)
        values = np.concatenate(values)
        error = np.concatenate(deltas) if deltas else None
        return Attribution(
            method=self.name,
            granularity="feature",
            feature_names=list(rows.columns),
            values=values,
            base_values=np.full(len(rows), base),
            outputs=outputs,
            output_space=self.output,
            row_ids=np.asarray(row_ids),
            completeness_error=error,
            meta={
                "captum": class_name,
                "device": str(device),
                "runtime_s": time.perf_counter() - started,
                **{k: v for k, v in settings.items() if isinstance(v, (int, float, str, bool))},
            },
        )


def _probability_module(model, output_space: str):
    import torch

    class Probability(torch.nn.Module):
        """DeepLift needs modules, the final nonlinearity included, so its rescale rule covers the sigmoid
        (a functional sigmoid would be passed through as a plain gradient and break completeness)."""

        def __init__(self):
            super().__init__()
            self.model, self.sigmoid, self.softmax = model, torch.nn.Sigmoid(), torch.nn.Softmax(dim=-1)

        def forward(self, x):
            output = self.model(x)
            if output.ndim == 2 and output.shape[1] == 2:
                if output_space == "probability":
                    return self.softmax(output)[:, 1]
                return output[:, 1] - output[:, 0]  # the log-odds of class 1
            output = output[:, 0] if output.ndim == 2 else output
            return self.sigmoid(output) if output_space == "probability" else output

    return Probability()


class IntegratedGradientsTabular(CaptumTabular):
    """Integrated Gradients from the background mean (convergence delta checked)."""

    method = name = "integrated_gradients"
    settings_allowed = _allowed("integrated_gradients")


class SaliencyTabular(CaptumTabular):
    """Gradients of the output at the input."""

    method = name = "saliency"
    settings_allowed = _allowed("saliency")


class InputXGradientTabular(CaptumTabular):
    """Input times gradient."""

    method = name = "input_x_gradient"
    settings_allowed = _allowed("input_x_gradient")


class DeepLiftTabular(CaptumTabular):
    """DeepLift's rescale rule from the background mean (convergence delta checked)."""

    method = name = "deeplift"
    settings_allowed = _allowed("deeplift")


class GradientShapTabular(CaptumTabular):
    """GradientShap over the background rows (completeness in expectation)."""

    method = name = "gradient_shap"
    settings_allowed = _allowed("gradient_shap")


class FeatureAblationTabular(CaptumTabular):
    """Each input replaced by its background mean."""

    method = name = "feature_ablation"
    settings_allowed = _allowed("feature_ablation")


class OcclusionTabular(CaptumTabular):
    """Sliding-window occlusion against the background mean."""

    method = name = "occlusion"
    settings_allowed = _allowed("occlusion")
