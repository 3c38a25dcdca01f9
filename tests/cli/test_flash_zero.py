"""Flash Zero's command syntax as an alternate spelling of flash-train's flags."""

from __future__ import annotations

import pytest
import yaml

from flashtrain.cli.flash_zero import translate
from flashtrain.cli.main import main


def test_flash_zero_groups_and_data_subcommand_become_flash_train_flags():
    argv = [
        "image_classification",
        "--trainer.max_epochs",
        "1",
        "--model.backbone=resnet18",
        "from_folders",
        "--train_folder",
        "data/train",
        "--val_folder",
        "data/val",
    ]

    translated = translate(argv)

    assert translated.argv == [
        "image_classification",
        "--max-epochs",
        "1",
        "--backbone=resnet18",
        "--train-folder",
        "data/train",
        "--val-folder",
        "data/val",
    ]
    assert not translated.print_config


def test_flash_train_s_own_spelling_is_left_alone():
    argv = ["image_classification", "--max-epochs", "1", "--train-folder", "my_data/from_x"]
    assert translate(argv).argv == argv


def test_print_config_prints_the_resolved_options_as_the_yaml_config_reads(capsys, tmp_path):
    argv = ["image_classification", "--trainer.max_epochs", "2", "--model.backbone", "test_resnet", "--print_config"]

    assert main(argv) == 0

    config = yaml.safe_load(capsys.readouterr().out)
    assert config["max_epochs"] == 2
    assert config["backbone"] == "test_resnet"


def test_flash_s_sample_download_subcommands_are_refused_with_the_flags_to_use(capsys):
    assert main(["text_classification", "from_toxic"]) == 2
    error = capsys.readouterr().err
    assert "from_toxic' downloads Flash's sample dataset" in error
    assert "flash-train text_classification` for the bundled sample" in error
    assert "Traceback" not in error


@pytest.mark.parametrize("flag", ["--trainer.no_such_flag", "--model.no_such_flag"])
def test_an_unknown_group_flag_is_one_line_naming_it(capsys, flag):
    with pytest.raises(SystemExit) as exit_status:  # argparse's own exit, as for any unknown flag
        main(["image_classification", flag, "3"])
    assert exit_status.value.code == 2
    error = capsys.readouterr().err
    assert "unrecognized arguments: --no-such-flag 3" in error
    assert "Traceback" not in error


def test_flash_s_tabular_classifier_command_name_is_tabular_classification():
    assert translate(["tabular_classifier", "--help"]).argv == ["tabular_classification", "--help"]
