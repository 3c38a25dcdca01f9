"""Lightning's public utility functions a porting user imports: tied parameters, detaching, RNG isolation, batch
sizes, loader lengths, constructor-argument helpers, the gradient-clipping enum, silencing PossibleUserWarning."""

from __future__ import annotations

import random
import threading
import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from flashtrain.core.exceptions import MisconfigurationException, PossibleUserWarning, disable_possible_user_warnings
from flashtrain.core.seed import isolate_rng
from flashtrain.core.strategies import SingleDeviceStrategy
from flashtrain.core.utilities.data import extract_batch_size, has_len_all_ranks, warning_cache
from flashtrain.core.utilities.enums import GradClipAlgorithmType
from flashtrain.core.utilities.memory import recursive_detach
from flashtrain.core.utilities.parameter_tying import find_shared_parameters, set_shared_parameters
from flashtrain.core.utilities.parsing import clean_namespace, collect_init_args, is_picklable, parse_class_init_keys


class Tied(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Linear(4, 4, bias=False)
        self.middle = torch.nn.Linear(4, 4)
        self.decoder = torch.nn.Linear(4, 4, bias=False)
        self.decoder.weight = self.encoder.weight


def test_tied_parameters_are_found_and_tied_again():
    model = Tied()
    assert find_shared_parameters(model) == [["encoder.weight", "decoder.weight"]]
    assert find_shared_parameters(torch.nn.Linear(2, 2)) == []
    model.decoder.weight = torch.nn.Parameter(torch.zeros(4, 4))  # the tie broken (as a reload may do)
    assert find_shared_parameters(model) == []
    set_shared_parameters(model, [["encoder.weight", "decoder.weight"]])
    assert model.decoder.weight is model.encoder.weight


def test_recursive_detach_copies_without_graphs():
    leaf = torch.ones(2, requires_grad=True)
    data = {"a": leaf * 2, "b": [leaf + 1, "text"]}
    detached = recursive_detach(data, to_cpu=True)
    assert data["a"].grad_fn is not None  # the input is unchanged
    assert detached["a"].grad_fn is None and detached["b"][0].grad_fn is None and detached["b"][1] == "text"


def test_grad_clip_algorithm_type():
    assert GradClipAlgorithmType.supported_types() == ["value", "norm"]
    assert GradClipAlgorithmType.supported_type("NORM") and not GradClipAlgorithmType.supported_type("norm2")
    assert GradClipAlgorithmType.NORM == "norm"


def test_isolate_rng_puts_every_stream_back_also_after_an_error():
    torch.manual_seed(0)
    with isolate_rng():
        inside = (torch.rand(1), np.random.rand(), random.random())
    assert (torch.rand(1), np.random.rand(), random.random()) == inside
    state = torch.get_rng_state()
    with pytest.raises(RuntimeError), isolate_rng(include_cuda=False):
        torch.rand(3)
        raise RuntimeError("boom")
    assert torch.equal(torch.get_rng_state(), state)


def test_extract_batch_size():
    assert extract_batch_size({"x": [torch.zeros(5, 2)], "y": torch.zeros(5)}) == 5
    assert extract_batch_size(torch.tensor(3.0)) == 1
    warning_cache.clear()
    with pytest.warns(UserWarning, match="ambiguous collection. The batch size we found is 5"):
        assert extract_batch_size([torch.zeros(5), torch.zeros(4)]) == 5
    warning_cache.clear()
    with pytest.raises(MisconfigurationException, match="could not infer the batch_size"):
        extract_batch_size({"text": ["a", "b"]})


def test_has_len_all_ranks():
    strategy = SingleDeviceStrategy(torch.device("cpu"))
    assert has_len_all_ranks(DataLoader(TensorDataset(torch.zeros(3, 1))), strategy)
    with pytest.warns(UserWarning, match="Total length of `DataLoader` across ranks is zero"):
        assert has_len_all_ranks(DataLoader(TensorDataset(torch.zeros(0, 1))), strategy)
    assert not has_len_all_ranks(iter([1, 2]), strategy)


def test_picklability_helpers():
    assert is_picklable({"a": 1}) and not is_picklable(threading.Lock()) and not is_picklable(lambda: None)
    hparams = {"lr": 0.1, "lock": threading.Lock()}
    with pytest.warns(UserWarning, match="Attribute 'lock' removed from hparams because it cannot be pickled"):
        clean_namespace(hparams)
    assert hparams == {"lr": 0.1}


def test_constructor_argument_helpers():
    class Base:
        def __init__(self, a, b=2, **kwargs):
            self.chain = collect_init_args(_current_frame(), [])

    class Child(Base):
        def __init__(self, a, c, *rest, b=2, **options):
            super().__init__(a, b=b, **options)

    assert parse_class_init_keys(Child) == ("self", "rest", "options")
    assert parse_class_init_keys(Base) == ("self", None, "kwargs")
    chain = Child(1, 3, b=5, extra=7).chain
    assert chain == [{"a": 1, "b": 5, "extra": 7}, {"a": 1, "c": 3, "b": 5, "extra": 7}]


def _current_frame():
    import inspect

    return inspect.currentframe().f_back


def test_possible_user_warnings_can_be_silenced(monkeypatch):
    from flashtrain.core.exceptions import apply_warning_settings_from_environment

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monkeypatch.setenv("POSSIBLE_USER_WARNINGS", "off")
        apply_warning_settings_from_environment()
        warnings.warn("notice", PossibleUserWarning, stacklevel=1)
        warnings.warn("kept", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["kept"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        disable_possible_user_warnings()
        warnings.warn("notice", PossibleUserWarning, stacklevel=1)
    assert caught == []


def test_lightning_attribute_helpers_look_in_the_module_its_hparams_and_the_datamodule():
    from flashtrain.core import DataModule, Module, Trainer
    from flashtrain.core.utilities.parsing import lightning_getattr, lightning_hasattr, lightning_setattr

    class WithHparams(Module):
        def __init__(self, lr=0.1):
            super().__init__()
            self.save_hyperparameters()

    model = WithHparams()
    assert lightning_getattr(model, "lr") == 0.1 and not lightning_hasattr(model, "batch_size")
    trainer = Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    model.trainer = trainer
    datamodule = DataModule()
    datamodule.batch_size = 8
    trainer.datamodule = datamodule  # an attribute in Lightning: assignable
    assert lightning_getattr(model, "batch_size") == 8
    lightning_setattr(model, "lr", 0.5)
    assert model.hparams.lr == 0.5
    with pytest.raises(AttributeError, match="is neither stored in the model namespace nor the `hparams`"):
        lightning_setattr(model, "missing", 1)
