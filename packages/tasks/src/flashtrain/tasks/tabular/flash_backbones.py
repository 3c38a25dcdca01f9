"""Lightning Flash's tabular backbone names (it wrapped pytorch-tabular), mapped to the closest backbone we have.

``fttransformer`` is our ``ft_transformer`` under Flash's spelling. The others are different architectures that we
do not implement; each is built as the nearest one here, with a warning that says so (never silently):

- ``tabtransformer`` (a transformer over the categorical embeddings) and ``autoint`` (self-attention over feature
  embeddings) -> ``ft_transformer``: a transformer over every column's embedding, which contains both designs'
  attention between features and measured at least as well in Gorishniy et al. 2021;
- ``category_embedding`` (pytorch-tabular's embeddings + MLP) -> ``mlp``, the same design;
- ``node`` and ``gate`` (differentiable oblivious-tree ensembles) -> ``resnet``: we have no tree ensemble; the
  residual MLP is the strong general-purpose baseline of the same comparison.
"""

from __future__ import annotations

import warnings

FLASH_ALIASES = {"fttransformer": "ft_transformer"}
CLOSEST = {
    "tabtransformer": "ft_transformer",
    "autoint": "ft_transformer",
    "category_embedding": "mlp",
    "node": "resnet",
    "gate": "resnet",
}


def flash_backbone_name(name: str) -> str:
    """Our backbone for a Flash name (itself for ours); warns when it is the closest, not the same, design."""
    if not isinstance(name, str):
        return name
    key = name.lower()
    if key in FLASH_ALIASES:
        return FLASH_ALIASES[key]
    if key in CLOSEST:
        warnings.warn(
            f"Tabular backbone {name!r} (Flash / pytorch-tabular) is not implemented here; training the closest "
            f"one we have, {CLOSEST[key]!r}, instead. Pass backbone={CLOSEST[key]!r} to choose it explicitly.",
            UserWarning,
            stacklevel=3,
        )
        return CLOSEST[key]
    return name
