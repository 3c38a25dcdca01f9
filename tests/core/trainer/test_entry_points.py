"""What Lightning users rely on around each entry point: setup's stage, stateful callbacks' keys, strict loading,
and the accelerator flag's errors."""

from __future__ import annotations

from unittest import mock

import pytest

from flashtrain.core import Callback
from flashtrain.core.accelerators import CUDAAccelerator, MPSAccelerator
from flashtrain.core.exceptions import MisconfigurationException
from tests.core.helpers import RegressionModule, loader, quiet_trainer


def test_setup_gets_the_entry_point_as_lightnings_enum_and_the_stage_is_set():
    seen = []

    class Records(RegressionModule):
        def setup(self, stage):
            seen.append((stage.value, stage == stage.value, f"{stage}", self.trainer.state.stage.value))

    module, trainer = Records(), quiet_trainer(max_epochs=1, limit_train_batches=1)
    trainer.fit(module, loader())
    trainer.validate(module, loader(), verbose=False)
    trainer.predict(module, loader())
    assert seen == [("fit", True, "fit", "train"), ("validate", True, "validate", "validate")] + [
        ("predict", True, "predict", "predict")
    ]


def test_two_stateful_callbacks_with_one_state_key_are_refused():
    class Stateful(Callback):
        def state_dict(self):
            return {"count": 1}

    with pytest.raises(RuntimeError, match="Found more than one stateful callback of type `Stateful`"):
        quiet_trainer(callbacks=[Stateful(), Stateful()])
    quiet_trainer(callbacks=[Callback(), Callback()])  # stateless ones may repeat


@pytest.mark.parametrize(("strict_loading", "strict"), [(None, True), (True, True), (False, False)])
def test_resuming_loads_weights_as_strict_as_the_module_asks(tmp_path, strict_loading, strict):
    trainer = quiet_trainer(max_steps=1)
    trainer.fit(RegressionModule(), loader())
    trainer.save_checkpoint(tmp_path / "a.ckpt")
    module = RegressionModule()
    module.strict_loading = strict_loading
    assert module.strict_loading is strict
    with mock.patch.object(module, "load_state_dict") as load:
        quiet_trainer(max_steps=2).fit(module, loader(), ckpt_path=tmp_path / "a.ckpt")
    assert load.call_args.kwargs == {"strict": strict}


def test_gpu_without_any_gpu_backend_is_lightnings_error():
    with (
        mock.patch.object(CUDAAccelerator, "is_available", return_value=False),
        mock.patch.object(MPSAccelerator, "is_available", return_value=False),
    ):
        with pytest.raises(MisconfigurationException, match="No supported gpu backend found!"):
            quiet_trainer(accelerator="gpu")
        with pytest.raises(RuntimeError, match="accelerator='gpu' was requested but is not available"):
            quiet_trainer(accelerator="gpu")
    with pytest.raises(ValueError, match="You selected an invalid accelerator name: `accelerator='invalid'`"):
        quiet_trainer(accelerator="invalid")
