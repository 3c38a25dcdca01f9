"""``ToyData``: a CSV with columns x and y; targets standardised as the regression base expects."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from flashtrain.tasks.data import TaskDataModule, read_table


class ToyData(TaskDataModule):
    @classmethod
    def from_csv(cls, path: str, batch_size: int = 8, seed: int = 0) -> ToyData:
        frame = read_table(path, "train_file")
        x = torch.tensor(frame["x"].to_numpy(), dtype=torch.float32).unsqueeze(1)
        y = torch.tensor(frame["y"].to_numpy(), dtype=torch.float32).unsqueeze(1)
        data = cls({"train": TensorDataset(x, (y - y.mean()) / y.std())}, None, batch_size=batch_size, seed=seed)
        data.datasets["val"] = data.datasets["train"]
        data.target_mean, data.target_std = float(y.mean()), float(y.std())
        return data
