"""Profilers record the actions they are given and report them (Trainer(profiler=...) builds them by name)."""

from __future__ import annotations

import os
import time

import pytest
import torch

from flashtrain.core.profilers import (
    AdvancedProfiler,
    PassThroughProfiler,
    PyTorchProfiler,
    SimpleProfiler,
    build_profiler,
)


def test_simple_profiler_counts_and_times_each_action():
    profiler = SimpleProfiler()
    for _ in range(3):
        with profiler.profile("training_step"):
            time.sleep(0.01)
    with profiler.profile("validation_step"):
        pass
    assert len(profiler.recorded_durations["training_step"]) == 3
    assert sum(profiler.recorded_durations["training_step"]) >= 0.03
    report = profiler.summary()
    assert report.index("training_step") < report.index("validation_step")  # sorted by total time


def test_simple_profiler_refuses_unbalanced_calls():
    profiler = SimpleProfiler()
    profiler.start("a")
    with pytest.raises(ValueError, match="Attempted to start a which has already started"):
        profiler.start("a")
    with pytest.raises(ValueError, match=r"stop recording an action \(b\) which was never started"):
        profiler.stop("b")


def test_advanced_profiler_reports_cprofile_stats(tmp_path):
    profiler = AdvancedProfiler(dirpath=tmp_path, filename="perf")
    with profiler.profile("work"):
        sorted(range(10000), key=lambda v: -v)
    profiler.setup("fit")
    profiler.describe()
    text = (tmp_path / "fit-perf.txt").read_text()
    assert "Profile stats for: work" in text and "function calls" in text


def test_pytorch_profiler_reports_operators_of_an_action(tmp_path):
    profiler = PyTorchProfiler(dirpath=tmp_path, filename="trace")
    profiler.setup("fit")
    with profiler.profile("matmul_action"):
        torch.randn(32, 32) @ torch.randn(32, 32)
    report = profiler.summary()
    assert "matmul_action" in report and "aten::mm" in report
    assert (tmp_path / "fit-trace.pt.trace.json").exists()


def test_build_profiler_by_name_and_errors():
    assert isinstance(build_profiler(None), PassThroughProfiler)
    assert isinstance(build_profiler("simple"), SimpleProfiler)
    assert isinstance(build_profiler("advanced"), AdvancedProfiler)
    custom = SimpleProfiler()
    assert build_profiler(custom) is custom
    with pytest.raises(ValueError, match=r"can only be one of \['advanced', 'pytorch', 'simple'\]"):
        build_profiler("fast")
    with pytest.raises(TypeError, match="profiler must be a name, a Profiler or None; got int"):
        build_profiler(3)


def test_trainer_profiler_simple_reports_each_step_and_hook_with_counts(tmp_path):
    from flashtrain.core.callbacks import EarlyStopping
    from tests.core.helpers import RegressionModule, loader, quiet_trainer

    profiler = SimpleProfiler(dirpath=tmp_path, filename="perf")
    trainer = quiet_trainer(
        max_epochs=2, limit_train_batches=3, profiler=profiler, callbacks=[EarlyStopping("val_loss", patience=9)]
    )
    assert trainer.profiler is profiler
    trainer.fit(RegressionModule(), loader(), loader(n=16))
    durations = profiler.recorded_durations
    assert len(durations["[Strategy]SingleDeviceStrategy.training_step"]) == 6  # 2 epochs x 3 batches
    assert len(durations["[Strategy]SingleDeviceStrategy.validation_step"]) == 4  # 2 validations x 2 batches
    assert len(durations["[LightningModule]RegressionModule.backward"]) == 6
    assert len(durations["[Callback]EarlyStopping{'monitor': 'val_loss', 'mode': 'min'}.on_validation_end"]) == 2
    # a profiled run times the hooks nobody overrides too, as Lightning's report lists them
    assert len(durations["[Callback]EarlyStopping{'monitor': 'val_loss', 'mode': 'min'}.on_validation_start"]) == 2
    assert len(durations["[LightningModule]RegressionModule.on_train_batch_start"]) == 6
    report = (tmp_path / "fit-perf.txt").read_text()
    training_row = next(line for line in report.splitlines() if ".training_step" in line)
    assert training_row.split("|")[3].strip() == "6"  # the report's call count (after the mean)


def test_trainer_profiler_by_name_and_refused_names():
    from flashtrain.core import Trainer

    assert isinstance(Trainer(logger=False, profiler="simple").profiler, SimpleProfiler)
    assert isinstance(Trainer(logger=False).profiler, PassThroughProfiler)
    with pytest.raises(ValueError, match=r"can only be one of \['advanced', 'pytorch', 'simple'\]"):
        Trainer(logger=False, profiler="fast")


def test_simple_profiler_table_lists_each_action_with_mean_count_total_and_share():
    profiler = SimpleProfiler()
    profiler.start_time = time.perf_counter() - 10.0  # the run so far: 10 s
    profiler.recorded_durations["slow"] = [2.0, 3.0]
    profiler.recorded_durations["fast"] = [1.0]
    rows = [line.expandtabs() for line in profiler.summary().splitlines() if line.startswith("|")]
    cells = [[cell.strip() for cell in row.split("|")[1:-1]] for row in rows]
    assert cells[0] == ["Action", "Mean duration (s)", "Num calls", "Total time (s)", "Percentage %"]
    assert cells[1][:3] == ["Total", "-", "3"]
    assert cells[2][:4] == ["slow", "2.5", "2", "5.0"] and float(cells[2][4]) == pytest.approx(50, rel=1e-3)
    assert cells[3][:4] == ["fast", "1.0", "1", "1.0"]
    brief = SimpleProfiler(extended=False)
    brief.recorded_durations.update({"many": [1.0, 1.0, 1.0], "one": [2.0]})
    names = [line.split("|")[1].strip() for line in brief.summary().splitlines() if line.startswith("|")]
    assert names == ["Action", "one", "many"]  # without the extra columns, sorted by mean duration


def test_profiler_file_name_has_stage_rank_and_is_safe_for_any_action(tmp_path):
    profiler = AdvancedProfiler(dirpath=tmp_path, filename="perf", dump_stats=True)
    profiler.setup("fit", local_rank=1)
    with profiler.profile("val/loss:best"):
        sum(range(100))
    profiler.describe()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit-perf-1-val_loss_best.prof", "fit-perf-1.txt"]
    import pstats

    assert pstats.Stats(str(tmp_path / "fit-perf-1-val_loss_best.prof")).total_calls > 0
    assert "FIT Profiler Report" in (tmp_path / "fit-perf-1.txt").read_text()
    with pytest.raises(ValueError, match=r"dump_stats=True\) needs a dirpath"):
        no_folder = AdvancedProfiler(dump_stats=True)
        with no_folder.profile("a"):
            pass
        no_folder.summary()


def test_advanced_profiler_nests_actions_and_copies_without_recordings():
    import copy

    profiler = AdvancedProfiler()
    with profiler.profile("outer"), profiler.profile("inner"):
        sorted(range(1000))
    assert set(profiler.profiled_actions) == {"outer", "inner"}
    assert copy.deepcopy(profiler).profiled_actions == {}


def test_pytorch_profiler_checks_table_arguments_and_keeps_the_events(tmp_path):
    from flashtrain.core.exceptions import MisconfigurationException

    with pytest.raises(KeyError, match="row_limit. This is already a positional argument"):
        PyTorchProfiler(table_kwargs={"row_limit": 3})
    with pytest.raises(KeyError, match="Found invalid table_kwargs key: colour"):
        PyTorchProfiler(table_kwargs={"colour": 3})
    with pytest.raises(MisconfigurationException, match="Found sort_by_key: speed"):
        PyTorchProfiler(sort_by_key="speed")
    profiler = PyTorchProfiler(table_kwargs={"max_name_column_width": 8}, export_to_chrome=False)
    with profiler.profile("a_long_action_name"):
        torch.ones(1) + 1
    profiler.summary()
    assert any(event.name == "[pl][profile]a_long_action_name" for event in profiler.function_events)


def test_pytorch_profiler_writes_its_trace_in_the_trainers_log_dir_by_default(tmp_path):
    from flashtrain.core.loggers import CSVLogger
    from tests.core.helpers import RegressionModule, loader, quiet_trainer

    trainer = quiet_trainer(max_steps=2, profiler="pytorch", logger=CSVLogger(tmp_path))
    trainer.fit(RegressionModule(), loader(16))
    traces = [name for name in os.listdir(trainer.log_dir) if name.endswith(".pt.trace.json")]
    assert traces == ["fit.pt.trace.json"]  # TensorBoard's profiler plugin lists files with this suffix


def test_register_record_function_names_each_submodule_forward_in_the_trace():
    from flashtrain.core.profilers import RegisterRecordFunction

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
    profiler = PyTorchProfiler(export_to_chrome=False)
    with profiler.profile("forward"), RegisterRecordFunction(model):
        model(torch.rand(1, 2))
    profiler.summary()
    names = {event.name for event in profiler.function_events}
    assert "[pl][module]torch.nn.modules.linear.Linear: 0" in names
    assert "[pl][module]torch.nn.modules.activation.ReLU: 1" in names
    again = PyTorchProfiler(export_to_chrome=False)
    with again.profile("forward"):  # the hooks went with the `with` block
        model(torch.rand(1, 2))
    again.summary()
    assert not any(event.name.startswith("[pl][module]") for event in again.function_events)
