"""Tabular backbones: ``"mlp"`` (category embeddings + periodic number embeddings + MLP), ``"tabm"`` (an
efficient ensemble of MLPs, from the authors' ``tabm`` package), ``"resnet"`` and
``"ft_transformer"`` (Gorishniy et al. 2021, "Revisiting Deep Learning Models for Tabular Data": a residual MLP,
and a token per column + a transformer encoder), written here, and ``"tabnet"`` (Arik & Pfister 2019), whose
encoder comes from the maintained ``pytorch-tabnet`` package (its own training loop is not used: the encoder is a
plain module).

pytorch-tabular was considered too: it depends on Lightning (which flashtrain exists to avoid) and wraps its
models in its own training loop, so its models cannot be used as plain backbones without it. The ResNet is
written here because it is twenty lines and, in the paper's benchmark, as strong as most heavier models.

Both take ``(categorical, numerical)`` batches from :class:`~flashtrain.tasks.tabular.data.TabularDataset` and
return features of width ``num_features``; sizes default to values chosen from the data's shape.

A category value never seen in training maps to the "unknown" row of its embedding. Training never updates that
row (no training row uses it), so it starts at zero: an unseen value then adds nothing, instead of a random vector
that would push the prediction somewhere arbitrary.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import nn

from flashtrain.tasks.tabular.preprocessing import UNKNOWN, TabularPreprocessing


def embedding_size(cardinality: int) -> int:
    """Embedding width for a category with ``cardinality`` values (fast.ai's rule of thumb, capped at 32)."""
    return int(min(32, max(2, round(1.6 * cardinality**0.56))))


def category_embeddings(cardinalities: list[int], sizes: list[int] | None) -> CategoryEmbeddings:
    """One embedding per categorical column (width ``sizes[i]``, default :func:`embedding_size`), unknown row 0."""
    widths = sizes if sizes is not None else [embedding_size(n) for n in cardinalities]
    embeddings = [nn.Embedding(n, width) for n, width in zip(cardinalities, widths)]
    with torch.no_grad():
        for embedding in embeddings:
            embedding.weight[UNKNOWN].zero_()  # see the note at the top of the module
    return CategoryEmbeddings(embeddings)


class CategoryEmbeddings(nn.ModuleList):
    """One embedding per categorical column, applied by :meth:`embed`. A ModuleList (the same state-dict keys as
    before), with the loop as its own method because ``torch.jit.script`` iterates a ModuleList only inside one."""

    def embed(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """The embedded categories concatenated with the numerical inputs: one flat vector per row."""
        categorical, numerical = inputs
        parts: list[torch.Tensor] = []
        for index, embedding in enumerate(self):
            parts.append(embedding(categorical[:, index]))
        parts.append(numerical)
        return torch.cat(parts, dim=1)


def _flat_width(embeddings: nn.ModuleList, num_numerical: int) -> int:
    return sum(cast(nn.Embedding, embedding).embedding_dim for embedding in embeddings) + num_numerical


class NumericalEmbeddings(nn.Module):
    """Periodic embeddings of the numerical inputs (Gorishniy et al. 2022, "On Embeddings for Numerical Features in
    Tabular Deep Learning": the PLR variant), from ``rtdl_num_embeddings``, the paper's authors' package: each
    value becomes ``ReLU(Linear([cos(2 pi c x), sin(2 pi c x)]))`` with its own learned frequencies ``c``.

    A plain MLP on standardised values can only bend each column's effect slowly, which is where gradient-boosted
    trees win on tables; with these embeddings the MLP learns a step, a bump or a cycle in one column directly
    (on the generated table of benchmarks/tabular_vs_sklearn.py, 5 splits: accuracy 0.761 -> 0.791, where
    HistGradientBoosting has 0.795; more dropout without these embeddings reached 0.778).
    ``frequency_scale`` is the paper's sigma, its most important setting: larger fits sharper shapes and overfits
    sooner."""

    def __init__(self, num_numerical: int, dim: int = 16, frequencies: int = 16, frequency_scale: float = 0.1) -> None:
        super().__init__()
        from flashtrain.tasks.optional import require

        periodic = require("rtdl_num_embeddings", "tabular", "numerical_embedding='periodic'").PeriodicEmbeddings
        self.embeddings = periodic(
            num_numerical, dim, n_frequencies=frequencies, frequency_init_scale=frequency_scale, lite=False
        )
        self.num_numerical = num_numerical
        self.width = num_numerical * dim

    def forward(self, numerical: torch.Tensor) -> torch.Tensor:
        return self.embeddings(numerical).flatten(1)

    def __prepare_scriptable__(self) -> nn.Module:
        """What ``torch.jit.script`` compiles in its place: this module traced. ``rtdl_num_embeddings`` checks its
        input with an f-string TorchScript cannot compile; the embedding has no data-dependent branches, so its
        trace computes the same for any batch size."""
        return torch.jit.trace(self, torch.zeros(2, self.num_numerical))


def traced_for_script(module: nn.Module, num_categorical: int, num_numerical: int) -> nn.Module:
    """``module`` traced on a two-row batch in eval mode: what ``torch.jit.script`` compiles in place of a backbone
    built on a library TorchScript cannot compile (pytorch-tabnet, tabm). These have no data-dependent branches, so
    the trace computes the same for any batch; being traced in eval mode, the scripted copy is for inference."""
    example = (torch.zeros(2, num_categorical, dtype=torch.long), torch.zeros(2, num_numerical))
    training = module.training
    module.eval()
    try:
        return torch.jit.trace(module, (example,))
    finally:
        module.train(training)


NUMERICAL_EMBEDDINGS = ("periodic", "none")


class TabularMLP(nn.Module):
    """Embeddings for the categorical columns and (``numerical_embedding="periodic"``, the default) for the numerical
    inputs (:class:`NumericalEmbeddings`), concatenated, then ``num_layers`` x (Linear, ReLU, Dropout).
    ``hidden_size`` defaults to 4x the input width, within 64..512. ``numerical_embedding="none"`` feeds the
    standardised numbers as they are (the MLP of flashtrain 0.x)."""

    def __init__(
        self,
        cardinalities: list[int],
        num_numerical: int,
        hidden_size: int | None = None,
        num_layers: int = 2,
        dropout: float = 0.3,
        embedding_sizes: list[int] | None = None,
        numerical_embedding: str = "periodic",
        numerical_embedding_dim: int = 16,
        frequencies: int = 16,
        frequency_scale: float = 0.1,
    ) -> None:
        super().__init__()
        if numerical_embedding not in NUMERICAL_EMBEDDINGS:
            raise ValueError(
                f"numerical_embedding={numerical_embedding!r}; allowed: {', '.join(map(repr, NUMERICAL_EMBEDDINGS))}."
            )
        self.embeddings = category_embeddings(cardinalities, embedding_sizes)
        self.numerical = (
            NumericalEmbeddings(num_numerical, numerical_embedding_dim, frequencies, frequency_scale)
            if numerical_embedding == "periodic" and num_numerical
            else None
        )
        numerical_width = self.numerical.width if self.numerical is not None else num_numerical
        width = _flat_width(self.embeddings, 0) + numerical_width
        hidden = hidden_size or min(512, max(64, 4 * width))
        layers: list[nn.Module] = []
        for index in range(num_layers):
            layers += [nn.Linear(width if index == 0 else hidden, hidden), nn.ReLU(), nn.Dropout(dropout)]
        self.layers = nn.Sequential(*layers)
        self.num_features = hidden if num_layers else width

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        categorical, numerical = inputs
        if self.numerical is not None:
            numerical = self.numerical(numerical)
        return self.layers(self.embeddings.embed((categorical, numerical)))


class TabularResNet(nn.Module):
    """Gorishniy et al.'s tabular ResNet: a linear layer to ``d``, then ``num_blocks`` residual blocks
    ``x + Dropout(Linear(Dropout(ReLU(Linear(BatchNorm(x))))))`` with a ``2d`` hidden width, then BatchNorm + ReLU."""

    def __init__(
        self,
        cardinalities: list[int],
        num_numerical: int,
        d: int = 192,
        num_blocks: int = 2,
        hidden_factor: float = 2.0,
        dropout: float = 0.15,
        residual_dropout: float = 0.0,
        embedding_sizes: list[int] | None = None,
    ) -> None:
        super().__init__()
        self.embeddings = category_embeddings(cardinalities, embedding_sizes)
        self.first = nn.Linear(_flat_width(self.embeddings, num_numerical), d)
        hidden = int(d * hidden_factor)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.BatchNorm1d(d),
                nn.Linear(d, hidden),
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Linear(hidden, d),
                nn.Dropout(residual_dropout),
            )
            for _ in range(num_blocks)
        )
        self.last = nn.Sequential(nn.BatchNorm1d(d), nn.ReLU())
        self.num_features = d

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x = self.first(self.embeddings.embed(inputs))
        for block in self.blocks:
            x = x + block(x)
        return self.last(x)


class TabNet(nn.Module):
    """TabNet's encoder (``pytorch_tabnet.tab_network.TabNetEncoder``) over the embedded categories and the
    numerical inputs; the features are the sum of the decision steps' outputs (width ``n_d``).

    ``auxiliary_loss`` after each forward is TabNet's sparsity regulariser (``lambda_sparse`` x the attention
    masks' entropy), which the task adds to its loss as pytorch-tabnet's own training does.
    """

    def __init__(
        self,
        cardinalities: list[int],
        num_numerical: int,
        n_d: int = 16,
        n_a: int = 16,
        n_steps: int = 3,
        gamma: float = 1.3,
        n_independent: int = 2,
        n_shared: int = 2,
        virtual_batch_size: int = 128,
        momentum: float = 0.02,
        mask_type: str = "sparsemax",
        lambda_sparse: float = 1e-3,
        embedding_sizes: list[int] | None = None,
    ) -> None:
        super().__init__()
        from flashtrain.tasks.optional import require

        TabNetEncoder = require("pytorch_tabnet.tab_network", "tabular", "backbone='tabnet'").TabNetEncoder  # noqa: N806
        self.embeddings = category_embeddings(cardinalities, embedding_sizes)
        width = max(1, _flat_width(self.embeddings, num_numerical))
        self.encoder = TabNetEncoder(
            input_dim=width,
            output_dim=n_d,
            n_d=n_d,
            n_a=n_a,
            n_steps=n_steps,
            gamma=gamma,
            n_independent=n_independent,
            n_shared=n_shared,
            virtual_batch_size=virtual_batch_size,
            momentum=momentum,
            mask_type=mask_type,
        )
        # pytorch-tabnet keeps this matrix as a plain tensor attribute; as a buffer it follows .to(device).
        self.register_buffer("group_matrix", torch.eye(width), persistent=False)
        self.lambda_sparse = lambda_sparse
        self.num_numerical = num_numerical
        self.auxiliary_loss: torch.Tensor | None = None
        self.num_features = n_d

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        self.encoder.group_attention_matrix = self.group_matrix
        steps, mask_loss = self.encoder(self.embeddings.embed(inputs))
        self.auxiliary_loss = -self.lambda_sparse * mask_loss  # mask_loss is minus the entropy
        return torch.stack(steps, dim=0).sum(dim=0)

    def __prepare_scriptable__(self) -> nn.Module:
        return traced_for_script(self, len(self.embeddings), self.num_numerical)


class FTTransformer(nn.Module):
    """Feature tokenizer + transformer: each numerical value scales a learned vector (plus a bias), each category
    looks up a learned vector; a [CLS] token reads the encoded columns. Pre-norm blocks, GELU."""

    if TYPE_CHECKING:  # for mypy only: torch.jit.script reads class annotations and cannot parse the string ones
        category_offsets: torch.Tensor

    def __init__(
        self,
        cardinalities: list[int],
        num_numerical: int,
        d_token: int = 64,
        num_layers: int = 3,
        num_heads: int = 8,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        bound = 1 / math.sqrt(d_token)
        self.numerical_weight = nn.Parameter(torch.empty(num_numerical, d_token).uniform_(-bound, bound))
        self.numerical_bias = nn.Parameter(torch.empty(num_numerical, d_token).uniform_(-bound, bound))
        self.category_embeddings = nn.Embedding(max(1, sum(cardinalities)), d_token)
        nn.init.uniform_(self.category_embeddings.weight, -bound, bound)
        offsets = torch.tensor([0, *cardinalities[:-1]], dtype=torch.long).cumsum(0)[: len(cardinalities)]
        self.register_buffer("category_offsets", offsets)
        with torch.no_grad():
            self.category_embeddings.weight[offsets + UNKNOWN] = 0.0  # see the note at the top of the module
        self.category_bias = nn.Parameter(torch.empty(len(cardinalities), d_token).uniform_(-bound, bound))
        self.cls_token = nn.Parameter(torch.empty(1, 1, d_token).uniform_(-bound, bound))
        layer = nn.TransformerEncoderLayer(
            d_token,
            num_heads,
            dim_feedforward=d_token * 4 // 3,
            dropout=dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_token)
        self.num_features = d_token

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        categorical, numerical = inputs
        tokens = [self.cls_token.expand(numerical.shape[0], -1, -1)]  # not len(): export keeps the batch dynamic
        if numerical.shape[1]:
            tokens.append(numerical.unsqueeze(-1) * self.numerical_weight + self.numerical_bias)
        if categorical.shape[1]:
            tokens.append(self.category_embeddings(categorical + self.category_offsets) + self.category_bias)
        encoded = self.encoder(torch.cat(tokens, dim=1))
        return torch.relu(self.norm(encoded[:, 0]))


class TabM(nn.Module):
    """TabM (Gorishniy et al., ICLR 2025, "TabM: Advancing Tabular Deep Learning with Parameter-Efficient
    Ensembling"), from the authors' ``tabm`` package: ``k`` MLPs that share most of their weights (BatchEnsemble
    adapters), trained together, each on the whole batch. Numbers go through the same periodic embeddings as the MLP's
    (:class:`NumericalEmbeddings`), categories one-hot (TabM's own encoding).

    The features have a member axis, ``(batch, k, d_block)``; the task's head maps each member's features, trains
    each member on the batch (the mean of their losses, as in the paper) and predicts with the members' mean (see
    ``flashtrain.tasks.tabular.model``). ``k=32, d_block=512`` are the paper's defaults; ``d_block=256`` is the
    default here, measured as accurate on the benchmark's tables and twice as fast on a CPU."""

    ensemble = True

    def __init__(
        self,
        cardinalities: list[int],
        num_numerical: int,
        k: int = 32,
        n_blocks: int = 2,
        d_block: int = 256,
        dropout: float = 0.1,
        numerical_embedding: str = "periodic",
        numerical_embedding_dim: int = 16,
        frequencies: int = 16,
        frequency_scale: float = 0.1,
        arch_type: str = "tabm",
    ) -> None:
        super().__init__()
        from flashtrain.tasks.optional import require

        tabm = require("tabm", "tabular", "backbone='tabm'")
        if numerical_embedding not in NUMERICAL_EMBEDDINGS:
            raise ValueError(
                f"numerical_embedding={numerical_embedding!r}; allowed: {', '.join(map(repr, NUMERICAL_EMBEDDINGS))}."
            )
        embeddings = None
        if numerical_embedding == "periodic" and num_numerical:
            embeddings = NumericalEmbeddings(num_numerical, numerical_embedding_dim, frequencies, frequency_scale)
        self.model = tabm.TabM.make(
            n_num_features=num_numerical,
            cat_cardinalities=list(cardinalities) or None,
            d_out=None,
            num_embeddings=embeddings.embeddings if embeddings is not None else None,
            k=k,
            n_blocks=n_blocks,
            d_block=d_block,
            dropout=dropout,
            arch_type=arch_type,
        )
        self.num_numerical, self.num_categorical = num_numerical, len(cardinalities)
        self.num_features = d_block

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        categorical, numerical = inputs
        return self.model(
            numerical if self.num_numerical else None, categorical.long() if self.num_categorical else None
        )

    def __prepare_scriptable__(self) -> nn.Module:
        return traced_for_script(self, self.num_categorical, self.num_numerical)


BACKBONES: dict[str, type[nn.Module]] = {
    "tabm": TabM,
    "mlp": TabularMLP,
    "resnet": TabularResNet,
    "ft_transformer": FTTransformer,
    "tabnet": TabNet,
}


def available_tabular_backbones() -> list[str]:
    return sorted(BACKBONES)


def resolve_embedding_sizes(sizes: Any, preprocessing: TabularPreprocessing) -> list[int] | None:
    """``{column: width}`` (others keep the default) or one width per categorical column -> a list of widths."""
    if sizes is None:
        return None
    fields = list(preprocessing.categorical_fields)
    cardinalities = preprocessing.cardinalities
    if isinstance(sizes, dict):
        unknown = sorted(set(sizes) - set(fields))
        if unknown:
            raise ValueError(f"embedding_sizes names {unknown}, which are not categorical_fields {fields}.")
        widths = [sizes.get(field, embedding_size(n)) for field, n in zip(fields, cardinalities)]
    elif isinstance(sizes, (list, tuple)):
        if len(sizes) != len(fields):
            raise ValueError(f"embedding_sizes has {len(sizes)} widths for {len(fields)} categorical_fields {fields}.")
        widths = list(sizes)
    else:
        raise TypeError(f"embedding_sizes must be a dict column -> width or a list of widths, got {sizes!r}.")
    if not all(isinstance(w, int) and w > 0 for w in widths):
        raise ValueError(f"embedding_sizes must be positive ints, got {widths}.")
    return widths


def build_tabular_backbone(
    name: str, preprocessing: TabularPreprocessing, options: dict[str, Any] | None, embedding_sizes: Any = None
) -> Any:
    from flashtrain.tasks.tabular.flash_backbones import flash_backbone_name

    name = flash_backbone_name(name)  # Flash's names: "fttransformer", or the closest we have (with a warning)
    if name not in BACKBONES:
        raise ValueError(f"Unknown tabular backbone {name!r}. Allowed: {', '.join(available_tabular_backbones())}.")
    backbone = BACKBONES[name]
    options = dict(options or {})
    widths = resolve_embedding_sizes(embedding_sizes, preprocessing)
    if widths is not None:
        if name == "ft_transformer":
            raise ValueError("embedding_sizes does not apply to ft_transformer (every column is a d_token vector).")
        options["embedding_sizes"] = widths
    try:
        return backbone(preprocessing.cardinalities, preprocessing.num_numerical_inputs, **options)
    except TypeError as error:
        raise TypeError(f"backbone_kwargs for {name!r}: {error}") from None
