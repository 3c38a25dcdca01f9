"""A toy task that lives outside flashtrain: its model, data, predictor, export graph and CLI command in this folder,
made known with ``registry.register(TOY)``. tests/tasks/test_registry.py shows that this is all a new task needs."""

from __future__ import annotations

from flashtrain.tasks.registry import TaskSpec

TOY = TaskSpec(
    name="toy_regression",
    kind="regression",
    model="tests.tasks.toy.model:ToyRegressor",
    data="tests.tasks.toy.data:ToyData",
    predictor="tests.tasks.toy.predictor:ToyPredictor",
    export_graph="tests.tasks.toy.export:export_graph",
    command="tests.tasks.toy.command",
    inputs="table",
    help="fit y from x with one linear layer",
    defaults={"optimizer": "adam", "lr_scheduler": None, "learning_rate": 0.1, "max_epochs": 20, "batch_size": 8},
)
