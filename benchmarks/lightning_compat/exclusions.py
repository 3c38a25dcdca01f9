"""Lightning tests the harness does not count: each exercises a Lightning internal, not public behaviour.

Keys are pytest ids relative to ``tests/tests_pytorch`` (a bare function name covers all its parameters).
A test belongs here only when what it checks cannot be stated through Lightning's public API: it patches a
private method, reads a private attribute, or calls a private class. Everything else is counted, and a
failure of a counted test is either fixed or listed in ``docs/lightning-differences.md``.
"""

_ES = "callbacks/test_early_stopping.py::"
_TRAIN_LOG = "trainer/logging_/test_train_loop_logging.py::"
_EVAL_LOG = "trainer/logging_/test_eval_loop_logging.py::"
_MANUAL = "trainer/optimization/test_manual_optimization.py::"
_HOOKS = "models/test_hooks.py::"

EXCLUDED: dict[str, str] = {
    _ES + "test_early_stopping_no_extraneous_invocations": (
        "counts calls of the private EarlyStopping._run_early_stopping_check through a Mock"
    ),
    _ES + "test_min_epochs_min_steps_global_step": "patches the private EarlyStopping._evaluate_stopping_criteria",
    _ES + "test_check_on_train_epoch_end_smart_handling": (
        "patches the private EarlyStopping._evaluate_stopping_criteria to see which hook ran the check"
    ),
    _ES + "test_early_stopping_squeezes": (
        "patches the private _evaluate_stopping_criteria and calls the private _run_early_stopping_check"
    ),
    _ES + "test_early_stopping_log_info": (
        "calls the private EarlyStopping._log_info and patches Lightning's module logger"
    ),
    _TRAIN_LOG + "test_on_epoch_logging_with_sum_and_on_batch_start": (
        "reads the private _results collection of the trainer and its entries' .value"
    ),
    _TRAIN_LOG + "test_unsqueezed_tensor_logging": "sets the private LightningModule._current_fx_name",
    _EVAL_LOG + "test_log_works_in_test_callback": "reads the private _results.dataloader_idx of the trainer",
    _EVAL_LOG + "test_multiple_dataloaders_reset": (
        "reads the private _results entries of the trainer' cumulated_batch_size"
    ),
    _EVAL_LOG + "test_native_print_results": "calls the private _EvaluationLoop._print_results",
    _EVAL_LOG + "test_native_print_results_encodings": "calls the private _EvaluationLoop._print_results",
    _EVAL_LOG + "test_rich_print_results": "calls the private _EvaluationLoop._print_results (rich)",
    _HOOKS + "test_load_from_checkpoint_hook_calls": "calls the private _data_connector.attach_data of the trainer",
}
