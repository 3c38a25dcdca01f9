"""The task's recipe is the CLI's: flags left out leave the task class's defaults in force, --help shows those
defaults (read without importing torch), config.yaml records what was used, and names that are not in a registry
are refused before any data is read."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
import torch
import yaml

import flashtrain.tasks
from flashtrain.cli.main import build_parser, main
from flashtrain.cli.options import RunOptions, command_parser, read_config
from flashtrain.cli.recipe import TASK_CLASSES, TaskDefault, optimization_options, record_recipe
from flashtrain.tasks.optimization import OptimizerChoice
from tests.cli.test_cli import TINY, folders  # noqa: F401 - fixture


@pytest.fixture(autouse=True)
def no_debug(monkeypatch):
    monkeypatch.delenv("FLASHTRAIN_DEBUG", raising=False)


def parse(*argv: str):
    return build_parser().parse_args(list(argv))


def task_defaults(command: str) -> dict[str, TaskDefault]:
    parser = command_parser(build_parser(), command)
    return {action.dest: action.default for action in parser._actions if isinstance(action.default, TaskDefault)}


@pytest.mark.parametrize("command", sorted(TASK_CLASSES))
def test_defaults_read_from_the_task_source_are_the_classes_own(command):
    task_class = getattr(flashtrain.tasks, TASK_CLASSES[command][1])
    signature = inspect.signature(task_class.__init__).parameters
    defaults = task_defaults(command)
    assert {"optimizer", "weight_decay", "lr_scheduler", "learning_rate", "max_epochs"} <= set(defaults)
    for dest, default in defaults.items():
        expected = task_class.default_max_epochs if dest == "max_epochs" else signature[default.name].default
        assert default.raw() == expected, dest


def test_the_batch_size_flag_defaults_to_the_data_class_batch_size():
    from flashtrain.tasks import TextClassificationData
    from flashtrain.tasks.image.data import DEFAULT_BATCH_SIZE, ImageClassificationData

    text_default = inspect.signature(TextClassificationData.from_lists).parameters["batch_size"].default
    assert parse("image_classification").batch_size == DEFAULT_BATCH_SIZE == 64
    assert parse("text_classification").batch_size == text_default == 32
    assert parse("tabular_classification").batch_size is None  # the data class sizes it from the rows
    images = {"train_data": torch.zeros(4, 3, 8, 8), "train_targets": [0, 1, 0, 1]}
    assert ImageClassificationData.from_tensors(**images).batch_size == DEFAULT_BATCH_SIZE


def test_help_shows_the_task_defaults_without_importing_torch():
    code = (
        "import sys, flashtrain.cli.main as m\n"
        "from flashtrain.cli.options import command_parser\n"
        "parser = m.build_parser()\n"
        "for name in ('image_classification', 'tabular_regression', 'text_classification'):\n"
        "    print(command_parser(parser, name).format_help())\n"
        "print('torch imported:', 'torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    image, tabular, text = result.stdout.split("usage: ")[1:]
    flat = [" ".join(part.split()) for part in (image, tabular, text)]
    for shown in ("(default: adamw)", "(default: 0.05)", "(default: onecycle)", "(default: 0.002)", "(default: 0.1)"):
        assert shown in flat[0], shown
    assert "(default: 30)" in flat[1] and "(default: 0.001)" in flat[1] and "(default: the optimizer's own)" in flat[1]
    assert "(default: 3)" in flat[2] and "(default: 5e-05)" in flat[2] and "(default: prajjwal1/bert-tiny)" in flat[2]
    assert result.stdout.strip().endswith("torch imported: False")


def test_flags_left_out_leave_the_task_recipe_alone():
    assert optimization_options(parse("image_classification")) == {}
    chosen = optimization_options(parse("image_classification", "--optimizer", "sgd", "--lr-scheduler", "none"))
    assert chosen == {"optimizer": "sgd", "lr_scheduler": None}  # no AdamW weight decay carried over to SGD
    assert OptimizerChoice.parse("sgd").argument("weight_decay") == 0  # so the run (and its config) uses SGD's own
    assert optimization_options(parse("image_classification", "--weight-decay", "0.1")) == {
        "optimizer": ("adamw", {"weight_decay": 0.1})
    }
    assert optimization_options(parse("image_classification", "--optimizer", "AdamW", "--learning-rate", "0.01")) == {
        "optimizer": ("AdamW", {"weight_decay": 0.05}),  # the task's own optimizer keeps the task's weight decay
        "learning_rate": 0.01,
    }


@pytest.mark.slow
def test_a_run_trains_and_records_the_task_recipe(capsys, folders, monkeypatch):  # noqa: F811
    monkeypatch.chdir(folders)
    argv = ["image_classification", "--train-folder", "data/train", "--val-folder", "data/val", "--output-dir", "out"]
    assert main([*argv, *TINY]) == 0, capsys.readouterr().err
    run = folders / "out" / "logs" / "version_0"
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    groups = checkpoint["optimizer_states"][0]["param_groups"]
    # AdamW one-cycle; timm's parameter groups: weights decay, biases and norm layers do not
    assert sorted(group["weight_decay"] for group in groups) == [0.0, 0.05]
    assert [group["initial_lr"] for group in groups] == pytest.approx([0.002 / 25] * len(groups))
    assert {"total_steps", "_schedule_phases"} <= set(checkpoint["lr_schedulers"][0])  # OneCycleLR, not cosine
    config = yaml.safe_load((run / "config.yaml").read_text())
    recipe = {key: config[key] for key in ("optimizer", "weight_decay", "lr_scheduler", "learning_rate")}
    assert recipe == {"optimizer": "adamw", "weight_decay": 0.05, "lr_scheduler": "onecycle", "learning_rate": 0.002}
    assert (config["label_smoothing"], config["mixup_alpha"], config["max_epochs"]) == (0.1, 0.0, 1)
    parser = command_parser(build_parser(), "image_classification")
    assert read_config(str(run / "config.yaml"), parser, "image_classification")["weight_decay"] == 0.05


def test_the_recorded_recipe_is_the_models(tmp_path):
    from flashtrain.tasks import TabularClassificationData, TabularClassifier

    data = TabularClassificationData.from_dicts(
        None, ["x"], "y", train_dicts=[{"x": 1.0, "y": "a"}, {"x": 2, "y": "b"}]
    )
    args = parse("tabular_classification", "--optimizer", "rmsprop")
    model = TabularClassifier.from_data(data, **optimization_options(args))
    args = record_recipe(RunOptions.from_namespace(args), model)  # options are frozen: a new one comes back
    assert (args.optimizer, args.weight_decay, args.learning_rate, args.max_epochs) == ("rmsprop", 0, 1e-3, 30)
    assert args.backbone == "mlp" and not any(isinstance(value, TaskDefault) for value in args.values.values())


@pytest.mark.parametrize(
    ("argv", "nearest"),
    [
        (["image_classification", "--optimizer", "adamm"], "did you mean adam, "),
        (["image_classification", "--lr-scheduler", "onecyle"], "did you mean onecycle"),
        (["image_classification", "--backbone", "resnet181"], "did you mean resnet18"),
        (["image_classification", "--metrics", "f1,precison"], "did you mean precision"),
        (["tabular_classification", "--backbone", "ft_transfomer"], "did you mean ft_transformer"),
        (["tabular_regression", "--metrics", "maee"], "did you mean mae"),
        (["text_classification", "--optimizer", "sgdd"], "did you mean sgd"),
    ],
)
def test_a_name_not_in_a_registry_is_refused_before_any_data_is_read(capsys, tmp_path, monkeypatch, argv, nearest):
    monkeypatch.chdir(tmp_path)
    data = ["--train-folder", "missing"] if argv[0] == "image_classification" else ["--train-file", "missing.csv"]
    status = main([*argv, *data, "--output-dir", "out"])
    lines = capsys.readouterr().err.strip().splitlines()
    flag, value = argv[1], argv[2].split(",")[-1]
    assert status == 2 and len(lines) == 1, lines
    assert f"error: {flag} {value!r} is not known; {nearest}" in lines[0]  # the typo, not the missing data
    assert not (tmp_path / "out" / "logs").exists()
