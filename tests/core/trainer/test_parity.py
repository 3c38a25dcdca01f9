"""Trainer.fit leaves exactly the weights of a hand-written PyTorch loop (fp32, CPU)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from flashtrain.core import Module
from tests.core.helpers import Net, loader, quiet_trainer


class ParityModule(Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = Net(dropout=0.2)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.mse_loss(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=0.01)


def hand_written_loop(
    epochs: int, accumulate: int, clip_val: float | None, clip_algorithm: str, shuffle: bool = False
) -> torch.nn.Module:
    torch.manual_seed(0)
    net = Net(dropout=0.2)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    # 8 batches, the last one short. A plain DataLoader draws its seeds from the global RNG at every epoch; the
    # trainer makes the same draws (and keeps them, so that a resumed run replays the order), as Lightning does.
    data = loader(n=60, batch_size=8, shuffle=shuffle)
    torch.manual_seed(1234)  # the same dropout stream as the trainer run below
    net.train()
    for _ in range(epochs):
        for index, (x, y) in enumerate(data):
            loss = F.mse_loss(net(x), y) / accumulate
            loss.backward()
            if (index + 1) % accumulate == 0 or index + 1 == len(data):
                if clip_val is not None:
                    if clip_algorithm == "norm":
                        torch.nn.utils.clip_grad_norm_(net.parameters(), clip_val)
                    else:
                        torch.nn.utils.clip_grad_value_(net.parameters(), clip_val)
                optimizer.step()
                optimizer.zero_grad()
    return net


@pytest.mark.parametrize(
    ("accumulate", "clip_val", "clip_algorithm"),
    [(1, None, "norm"), (3, None, "norm"), (1, 0.05, "norm"), (2, 0.01, "value"), (3, 0.05, "norm")],
)
@pytest.mark.parametrize("defaults_on", [False, True], ids=["barebones", "defaults"])
def test_fit_matches_hand_written_loop_bit_for_bit(accumulate, clip_val, clip_algorithm, defaults_on, tmp_path):
    epochs = 3
    expected = hand_written_loop(epochs, accumulate, clip_val, clip_algorithm)

    model = ParityModule()
    kwargs = dict(
        max_epochs=epochs,
        accumulate_grad_batches=accumulate,
        gradient_clip_val=clip_val,
        gradient_clip_algorithm=clip_algorithm,
    )
    if defaults_on:  # logger, checkpoints, progress bar and summary must not perturb the numbers
        trainer = quiet_trainer(
            logger=None,
            enable_checkpointing=True,
            enable_progress_bar=True,
            enable_model_summary=True,
            default_root_dir=str(tmp_path),
            **kwargs,
        )
    else:
        trainer = quiet_trainer(**kwargs)
    torch.manual_seed(1234)
    trainer.fit(model, loader(n=60, batch_size=8))

    steps_per_epoch = -(-8 // accumulate)
    assert trainer.global_step == epochs * steps_per_epoch
    for (name, got), want in zip(model.net.state_dict().items(), expected.state_dict().values()):
        assert torch.equal(got, want), f"{name} differs from the hand-written loop"


def test_parity_detects_a_different_update():
    """The comparison above can fail: one extra step gives different weights."""
    expected = hand_written_loop(1, 1, None, "norm")
    model = ParityModule()
    torch.manual_seed(1234)
    quiet_trainer(max_steps=9, max_epochs=2).fit(model, loader(n=60, batch_size=8))
    assert not torch.equal(model.net.layers[0].weight, expected.layers[0].weight)


def test_a_shuffled_fit_matches_the_same_plain_pytorch_loop_at_the_same_seed():
    """Same seed, same numbers as plain PyTorch (and Lightning): the shuffle order and the dropout stream."""
    expected = hand_written_loop(2, 1, None, "norm", shuffle=True)
    model = ParityModule()
    torch.manual_seed(1234)
    quiet_trainer(max_epochs=2).fit(model, loader(n=60, batch_size=8, shuffle=True))
    for got, want in zip(model.net.state_dict().values(), expected.state_dict().values()):
        assert torch.equal(got, want)
