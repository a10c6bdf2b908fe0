"""The architectures the estimators can train, each a module class and its training defaults.

Torch modules know shapes only; what the estimator's ``"auto"`` training settings become
for an architecture lives here, beside it. Adding an architecture is one module class and
one line in ``ARCHITECTURES``; a user may pass their own module class (or an
:class:`Architecture`) as the estimator's ``architecture``. Why each default was chosen is
in ``benchmarks/results/defaults.md``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, replace

from ._base import MaskedAutoencoderModule
from ._modules import ConvAutoencoder, MLPAutoencoder
from ._vit import VisionTransformerAutoencoder

# arguments the estimator passes itself; module_params may not set them
RESERVED = ("sample_shape", "latent_dim", "width")


@dataclass(frozen=True)
class Architecture:
    """A module class and what the estimator's ``"auto"`` settings resolve to for it.

    Parameters
    ----------
    module : subclass of MaskedAutoencoderModule
        Built as ``module(sample_shape, latent_dim=..., width=..., **module_params)``.
    latent_dim, mask_ratio, mask_type, lr, batch_size, consistency, noise
        The values of the estimator's ``"auto"`` settings; ``noise`` is for images
        (tabular rows train without it).
    visible_weight : float
        Weight of the error on the visible entries in the loss, beside the hidden ones'
        weight of 1 (with ``loss_on="masked"``; ReMasker's loss on both).
    auto_steps : int
        Optimiser steps that ``max_epochs="auto"`` aims for.
    auto_passes : int
        Fewest passes over the data that ``max_epochs="auto"`` makes.
    epoch_steps : int
        Fewest optimiser steps in an epoch: an epoch of a small table draws batches from
        as many shuffled passes as it takes, rather than a handful of steps each.
    uses_patch_size : bool
        The module takes a ``patch_size`` argument; it gets the estimator's unless
        ``module_params`` sets its own.
    images_only : bool
        The module cannot read tabular rows.
    """

    module: type
    latent_dim: int = 128
    mask_ratio: float = 0.5
    mask_type: str = "pixel"
    lr: float = 3e-3
    batch_size: int = 128
    consistency: float = 0.04
    noise: str | None = None
    visible_weight: float = 0.0
    auto_steps: int = 500
    auto_passes: int = 20
    epoch_steps: int = 1
    uses_patch_size: bool = False
    images_only: bool = False

    @property
    def name(self) -> str:
        for registry in (ARCHITECTURES, IMPUTER_ARCHITECTURES):
            for name, spec in registry.items():
                if spec == self:
                    return name
        return self.module.__name__

    def build(self, sample_shape, latent_dim: int, width: int, module_params: dict):
        """The module, after checking ``module_params`` against its signature."""
        check_module_params(self.module, module_params)
        return self.module(sample_shape, latent_dim=latent_dim, width=width, **module_params)


ARCHITECTURES: dict[str, Architecture] = {
    "conv": Architecture(ConvAutoencoder, latent_dim=512, images_only=True, noise="mixed"),
    "mlp": Architecture(MLPAutoencoder, mask_ratio=0.2, lr=1e-2, batch_size=256,
                        visible_weight=0.5, auto_steps=150, epoch_steps=25),
    "vit": Architecture(VisionTransformerAutoencoder, mask_ratio=0.75, mask_type="patch",
                        lr=1e-3, batch_size=64, consistency=0.0, noise="mixed",
                        uses_patch_size=True),
}

# The imputer's "auto" settings, where they differ. Its conv model fills pixels rather than
# giving features, and on the CPU a short fit buys more by more steps than by larger ones:
# MNIST-10k, 50% of the pixels, MSE 0.0080-0.0083 in 750 steps of 32 images against 0.0118
# in 250 of 128 for the same time; a latent of 128 values (no clustering to serve) fills as
# well at less cost; about 750 steps with no floor of passes keeps a fit in seconds as the
# data grows (benchmarks/results/defaults.md, "More, smaller steps on images").
IMPUTER_ARCHITECTURES: dict[str, Architecture] = {
    **ARCHITECTURES,
    "conv": replace(ARCHITECTURES["conv"], latent_dim=128, batch_size=32, auto_steps=750,
                    auto_passes=1),
}


def get_architecture(architecture, registry=ARCHITECTURES) -> Architecture:
    """The :class:`Architecture` for a name in ``registry``, a module class or an
    Architecture."""
    if isinstance(architecture, Architecture):
        spec = architecture
    elif isinstance(architecture, str):
        if architecture not in registry:
            raise ValueError(f"architecture={architecture!r} is not one of "
                             f"{sorted(registry)}, 'auto', a module class or an "
                             "Architecture.")
        return registry[architecture]
    else:
        spec = Architecture(architecture)
    if not (inspect.isclass(spec.module) and issubclass(spec.module, MaskedAutoencoderModule)):
        raise TypeError(
            f"architecture must be a name, a subclass of "
            f"sklearn_mae.MaskedAutoencoderModule or an Architecture; got {spec.module!r}."
        )
    return spec


def check_module_params(module: type, module_params: dict) -> None:
    """Raise a ValueError naming the keys ``module`` does not accept, before building it."""
    parameters = inspect.signature(module.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        accepted = None
    else:
        accepted = [name for name in parameters if name not in ("self", *RESERVED)]
    unknown = [key for key in module_params
               if key in RESERVED or (accepted is not None and key not in accepted)]
    if unknown:
        allowed = ", ".join(accepted) if accepted else "none"
        raise ValueError(
            f"module_params {unknown} are not accepted by {module.__name__} (it takes "
            f"{allowed}; {', '.join(RESERVED)} are set by the estimator). Check the names."
        )
