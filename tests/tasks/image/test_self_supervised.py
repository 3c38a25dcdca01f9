"""ImageEmbedder's self-supervised pre-training (Flash's ``training_strategy=``)."""

from __future__ import annotations

import pytest
import torch

from flashtrain.tasks import ImageEmbedder
from flashtrain.tasks.image.self_supervised import barlow_twins_loss, simclr_loss


def test_barlow_twins_loss_is_zero_for_agreeing_decorrelated_views_and_counts_disagreement():
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])  # standardised, uncorrelated columns
    assert barlow_twins_loss(z, z).item() == pytest.approx(0.0, abs=1e-3)
    assert barlow_twins_loss(z, -z).item() == pytest.approx(2 * 2.0**2, rel=1e-3)  # each diagonal -1: (1 + 1)^2


def test_simclr_loss_is_lower_when_each_view_matches_its_partner():
    z = torch.eye(4) * 10
    assert simclr_loss(z, z).item() < 0.01 < simclr_loss(z, z.roll(1, dims=0)).item()


@pytest.mark.parametrize("strategy", ["barlow_twins"])  # simclr: the same path, its loss checked above
def test_pretraining_lowers_the_strategy_loss_on_fixed_views(strategy):
    torch.manual_seed(0)
    embedder = ImageEmbedder(
        "test_resnet",
        pretrained=False,
        training_strategy=strategy,
        head=f"{strategy}_head",
        pretraining_transform=f"{strategy}_transform",
        training_strategy_kwargs={"latent_embedding_dim": 16, "hidden": 32},
        pretraining_transform_kwargs={"size_crops": [16]},
    )
    images = torch.rand(16, 3, 16, 16)
    first, second = embedder.views(images)
    assert first.shape == second.shape == (16, 3, 16, 16) and not torch.equal(first, second)

    def loss_on_fixed_views() -> float:
        with torch.no_grad():
            return embedder.ssl_loss(embedder.projection(embedder(first)), embedder.projection(embedder(second))).item()

    before = loss_on_fixed_views()
    optimizer = embedder.configure_optimizers()
    for step in range(6):
        optimizer.zero_grad()
        embedder.training_step((images, torch.zeros(16)), step).backward()
        optimizer.step()
    assert loss_on_fixed_views() < before
    assert embedder(images).shape[0] == 16  # predict still gives the backbone's embeddings


def test_unknown_strategies_and_mismatched_names_are_refused():
    with pytest.raises(
        ValueError, match=r"'swav' came from VISSL and is not provided\). Available: barlow_twins, simclr"
    ):
        ImageEmbedder("test_resnet", pretrained=False, training_strategy="swav")
    with pytest.raises(ValueError, match="head='simclr_head' does not go with training_strategy='barlow_twins'"):
        ImageEmbedder("test_resnet", pretrained=False, training_strategy="barlow_twins", head="simclr_head")
    with pytest.raises(ValueError, match=r"Unknown training_strategy_kwargs \['depth'\]"):
        ImageEmbedder(
            "test_resnet", pretrained=False, training_strategy="simclr", training_strategy_kwargs={"depth": 2}
        )


def test_an_embedder_without_a_strategy_still_refuses_to_train():
    with pytest.raises(RuntimeError, match="only predicts"):
        ImageEmbedder("test_resnet", pretrained=False, training_strategy="default").training_step(
            torch.rand(2, 3, 8, 8), 0
        )
