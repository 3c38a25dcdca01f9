"""``flash-train toy_regression --train-file t.csv``: the toy task's command, built from the CLI's shared parts."""

from __future__ import annotations

from typing import Any

from flashtrain.cli.options import RunOptions, add_trainer_flags
from flashtrain.cli.recipe import optimization_options


def add_parser(subparsers: Any, spec: Any) -> None:
    parser = subparsers.add_parser(spec.name, help=spec.help)
    parser.add_argument("--train-file", required=True, help="CSV with columns x and y")
    add_trainer_flags(parser, spec.name, batch_size=spec.defaults["batch_size"])
    parser.set_defaults(run=run, task=spec.name)


def run(options: RunOptions) -> dict[str, Any]:
    from flashtrain.cli.training import start, train
    from tests.tasks.toy.data import ToyData
    from tests.tasks.toy.model import ToyRegressor

    options, strategy = start(options)
    data = ToyData.from_csv(options.train_file, batch_size=options.batch_size, seed=options.seed)
    model = ToyRegressor(target_mean=data.target_mean, target_std=data.target_std, **optimization_options(options))
    return train(model, data, options, strategy)
