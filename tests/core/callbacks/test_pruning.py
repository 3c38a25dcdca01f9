"""ModelPruning prunes during fit with torch's pruning, saves pruned weights, and refuses bad arguments."""

from __future__ import annotations

import logging

import pytest
import torch

from flashtrain.core.callbacks import ModelPruning
from flashtrain.core.exceptions import MisconfigurationException
from tests.core.helpers import RegressionModule, loader, quiet_trainer


def _fit(pruning, epochs=2, **trainer_kwargs):
    model = RegressionModule()
    trainer = quiet_trainer(max_epochs=epochs, limit_train_batches=2, callbacks=[pruning], **trainer_kwargs)
    trainer.fit(model, loader(n=32), loader(n=16))
    return model, trainer


@pytest.mark.parametrize("global_unstructured", [True, False])
def test_pruning_zeroes_the_requested_share_and_is_made_permanent_at_the_end(global_unstructured):
    pruning = ModelPruning("l1_unstructured", amount=0.25, use_global_unstructured=global_unstructured)
    model, _ = _fit(pruning, epochs=2)
    first, last = model.net.layers[0], model.net.layers[3]
    assert not hasattr(first, "weight_orig") and not hasattr(first, "weight_mask")  # made permanent
    pruned = sum(int((p == 0).sum()) for m in (first, last) for p in (m.weight, m.bias))
    total = sum(p.numel() for m in (first, last) for p in (m.weight, m.bias))
    assert pruned == pytest.approx(total * (1 - 0.75**2), abs=3)  # 25% of what is left, at each of 2 epochs


def test_checkpoints_hold_the_mask_or_the_pruned_weights_as_asked(tmp_path):
    pruning = ModelPruning("l1_unstructured", amount=0.5, make_pruning_permanent=False)
    model, trainer = _fit(pruning, epochs=1)
    assert hasattr(model.net.layers[0], "weight_mask")  # not permanent: the reparametrization stays after fit
    trainer.save_checkpoint(tmp_path / "kept.ckpt")
    assert "net.layers.0.weight_orig" in torch.load(tmp_path / "kept.ckpt", weights_only=True)["state_dict"]
    pruning.make_permanent = True  # the same run, now saving permanent weights
    trainer.save_checkpoint(tmp_path / "permanent.ckpt")
    state = torch.load(tmp_path / "permanent.ckpt", weights_only=True)["state_dict"]
    assert not any(key.endswith(("_mask", "_orig")) for key in state)
    layer = model.net.layers[0]
    assert torch.equal(state["net.layers.0.weight"], layer.weight_orig * layer.weight_mask)  # the masked values
    assert hasattr(model.net.layers[0], "weight_mask")  # and training would go on with its mask


def test_pruning_logs_sparsity_and_runs_only_when_asked(caplog):
    pruning = ModelPruning("l1_unstructured", amount=0.5, apply_pruning=lambda epoch: epoch == 1, verbose=2)
    with caplog.at_level(logging.INFO):
        _fit(pruning, epochs=2)
    applied = [m for m in caplog.messages if m.startswith("Applied `L1Unstructured`")]
    total = 8 * 16 + 16 + 16 + 1
    assert applied[0].startswith(f"Applied `L1Unstructured`. Pruned: 0/{total} (0.00%) ->")
    assert len(applied) == 1 + 4  # the total, then each of the four tensors, at epoch 1 only


def test_lottery_ticket_resets_surviving_weights_to_their_initial_values():
    torch.manual_seed(0)
    model = RegressionModule()
    initial = model.net.layers[0].weight.detach().clone()
    pruning = ModelPruning(
        "l1_unstructured",
        parameters_to_prune=[(model.net.layers[0], "weight")],
        amount=0.5,
        make_pruning_permanent=False,
        use_lottery_ticket_hypothesis=True,
    )
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=3, callbacks=[pruning])
    trainer.fit(model, loader(n=32))
    layer = model.net.layers[0]
    assert torch.equal(layer.weight_orig, initial)
    assert int((layer.weight_mask == 0).sum()) == initial.numel() // 2


def test_parameters_to_prune_default_to_every_leaf_parameter_and_are_checked():
    model = RegressionModule()
    pairs = ModelPruning.sanitize_parameters_to_prune(model, (), ["weight"])
    assert pairs == [(model.net.layers[0], "weight"), (model.net.layers[3], "weight")]
    with pytest.raises(MisconfigurationException, match="don't exist in the model"):
        ModelPruning.sanitize_parameters_to_prune(model, [(torch.nn.Linear(1, 1), "weight")])
    with pytest.raises(MisconfigurationException, match="should either be list of tuple"):
        ModelPruning.sanitize_parameters_to_prune(model, [(model.net, 3)])


def test_bad_pruning_arguments_are_refused():
    with pytest.raises(MisconfigurationException, match=r"chocolate isn't in \('weight', 'bias'\)"):
        ModelPruning("l1_unstructured", parameter_names=["chocolate"])
    with pytest.raises(MisconfigurationException, match="isn't available in PyTorch's built-in functions"):
        ModelPruning("l3_unstructured")
    with pytest.raises(MisconfigurationException, match="pruning_dim` should be provided"):
        ModelPruning("random_structured", use_global_unstructured=False)
    with pytest.raises(MisconfigurationException, match="pruning_norm` should be provided"):
        ModelPruning("ln_structured", pruning_dim=0, use_global_unstructured=False)
    with pytest.raises(MisconfigurationException, match='Only the "unstructured" PRUNING_TYPE'):
        ModelPruning("random_structured", pruning_dim=0)
    with pytest.raises(MisconfigurationException, match="pass the class, not an instance"):
        ModelPruning(torch.nn.utils.prune.L1Unstructured(0.5))
    with pytest.raises(MisconfigurationException, match="only supported with `use_global_unstructured=True`"):
        ModelPruning(torch.nn.utils.prune.L1Unstructured, use_global_unstructured=False)
    with pytest.raises(MisconfigurationException, match="either an int, a float or Callable"):
        ModelPruning("l1_unstructured", amount="half")
    with pytest.raises(MisconfigurationException, match=r"must be any of \(0, 1, 2\)"):
        ModelPruning("l1_unstructured", verbose=3)


def test_pruning_at_validation_end_leaves_tensors_training_can_use():
    # validation inside fit runs under no_grad (not inference_mode), so a mask made there trains on
    pruning = ModelPruning("l1_unstructured", amount=0.2, prune_on_train_epoch_end=False, make_pruning_permanent=False)
    model, trainer = _fit(pruning, epochs=2)
    assert trainer.global_step == 4
    assert not model.net.layers[0].weight_mask.is_inference()
