"""Lightning's ``loops`` checkpoint entry: written from flashtrain's position, and read back from Lightning's."""

from __future__ import annotations

from flashtrain.core.checkpoint.lightning_format import lightning_keys, lightning_loops, position_from_lightning


def test_loops_after_whole_epochs_say_no_epoch_is_running():
    loops = lightning_loops(epochs_completed=2, batches_done_in_epoch=0, global_step=8, batches_that_stepped=8)
    epoch = loops["fit_loop"]["epoch_progress"]["current"]
    assert epoch == {"ready": 2, "started": 2, "processed": 2, "completed": 2}
    steps = loops["fit_loop"]["epoch_loop.automatic_optimization.optim_progress"]["optimizer"]["step"]["total"]
    assert steps == {"ready": 8, "completed": 8}
    assert set(loops) == {"fit_loop", "validate_loop", "test_loop", "predict_loop"}


def test_manual_optimization_counts_its_steps_in_the_manual_loop():
    loops = lightning_loops(1, 0, 5, 5, manual_optimization=True)["fit_loop"]
    assert loops["epoch_loop.manual_optimization.optim_step_progress"]["total"]["completed"] == 5
    assert loops["epoch_loop.automatic_optimization.optim_progress"]["optimizer"]["step"]["total"]["completed"] == 0


def test_written_position_reads_back_mid_epoch_and_at_epoch_end():
    for position in ((3, 2, 14, 14), (1, 0, 4, 4)):
        checkpoint = lightning_keys(*position)
        assert checkpoint["pytorch-lightning_version"].startswith("2.")
        read = position_from_lightning(checkpoint)
        assert (read["epochs_completed"], read["batches_done_in_epoch"], read["global_step"]) == position[:3]


def test_a_checkpoint_without_loops_has_no_lightning_position():
    assert position_from_lightning({"epoch": 1, "global_step": 4}) is None


def test_a_lightning_position_becomes_flashtrain_loop_entries():
    from flashtrain.core.checkpoint.lightning_format import with_flashtrain_position

    mid = with_flashtrain_position(lightning_keys(2, 3, 11, 11))
    assert (mid["epoch"], mid["global_step"], mid["loop"]["epoch_finished"], mid["loop"]["batches_done"]) == (
        2,
        11,
        False,
        3,
    )
    end = with_flashtrain_position(lightning_keys(2, 0, 8, 8))
    assert (end["epoch"], end["loop"]["epoch_finished"]) == (1, True)
    ours = {"loop": {"batches_done": 1}, "loops": lightning_keys(5, 0, 1, 1)["loops"], "epoch": 0}
    assert with_flashtrain_position(ours) is ours  # flashtrain's own entries win


def test_checkpoints_carry_lightnings_keys_and_resume_from_them_alone(tmp_path):
    import torch

    from flashtrain.core import Trainer
    from flashtrain.core.checkpoint import load_checkpoint
    from tests.core.helpers import RegressionModule, loader

    def trainer(epochs):
        return Trainer(
            max_epochs=epochs,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            default_root_dir=tmp_path,
        )

    first = trainer(1)
    first.fit(RegressionModule(), loader(16, batch_size=8))
    first.save_checkpoint(str(tmp_path / "a.ckpt"))
    saved = load_checkpoint(str(tmp_path / "a.ckpt"))
    assert saved["pytorch-lightning_version"].startswith("2.")
    assert position_from_lightning(saved)["epochs_completed"] == 1
    # As Lightning would write it: no flashtrain loop entry, its "epoch" the finished epoch count.
    lightning_like = {k: v for k, v in saved.items() if k not in ("loop", "rng")}
    lightning_like["epoch"] = 1
    torch.save(lightning_like, tmp_path / "lightning.ckpt")
    resumed = trainer(2)
    resumed.fit(RegressionModule(), loader(16, batch_size=8), ckpt_path=str(tmp_path / "lightning.ckpt"))
    assert (resumed.current_epoch, resumed.global_step) == (2, 4)


def test_an_epoch_end_checkpoint_counts_its_epoch_processed_not_completed_and_reads_back_as_done():
    loops = lightning_loops(3, 3, 9, 9, at_epoch_end=True, total_batches=9, steps_in_epoch=3, scheduler_steps=(3, 1))
    fit = loops["fit_loop"]
    assert fit["epoch_progress"]["current"] == {"ready": 3, "started": 3, "processed": 3, "completed": 2}
    assert fit["epoch_loop.batch_progress"]["current"]["completed"] == 3
    assert fit["epoch_loop.batch_progress"]["is_last_batch"]
    assert fit["epoch_loop.scheduler_progress"]["current"] == {"ready": 1, "completed": 1}
    steps = fit["epoch_loop.automatic_optimization.optim_progress"]["optimizer"]["step"]
    assert (steps["total"]["completed"], steps["current"]["completed"]) == (9, 3)
    read = position_from_lightning({"loops": loops})
    assert (read["epochs_completed"], read["batches_done_in_epoch"], read["global_step"]) == (3, 0, 9)


def test_a_lightning_style_epoch_end_checkpoint_resumes_at_the_next_epoch(tmp_path):
    import torch

    from flashtrain.core import Trainer
    from flashtrain.core.checkpoint import load_checkpoint
    from tests.core.helpers import RegressionModule, loader

    def trainer(epochs, **kwargs):
        return Trainer(max_epochs=epochs, logger=False, enable_progress_bar=False, default_root_dir=tmp_path, **kwargs)

    first = trainer(2)
    first.fit(RegressionModule(), loader(16, batch_size=8))  # ModelCheckpoint writes at each epoch's end
    saved = load_checkpoint(first.checkpoint_callback.best_model_path)
    fit_loop = saved["loops"]["fit_loop"]
    assert fit_loop["epoch_progress"]["current"]["processed"] == 2
    assert fit_loop["epoch_progress"]["current"]["completed"] == 1  # its end hooks were running
    lightning_like = {k: v for k, v in saved.items() if k not in ("loop", "rng")}
    torch.save(lightning_like, tmp_path / "lightning.ckpt")
    resumed = trainer(3, enable_checkpointing=False)
    resumed.fit(RegressionModule(), loader(16, batch_size=8), ckpt_path=str(tmp_path / "lightning.ckpt"))
    assert (resumed.current_epoch, resumed.global_step) == (3, 6)  # one more epoch, not the second one again
