"""The checkpoint file format: one ``torch.save`` dict of tensors, numbers and strings, so it loads with
``torch.load(weights_only=True)``. The keys and who writes each are listed in ``checkpoint/connector.py``; atomic
writes and safe loads are in ``checkpoint/io.py``."""

from flashtrain.core.checkpoint.io import FORMAT_VERSION, CheckpointError, load_checkpoint, save_checkpoint_file

__all__ = ["FORMAT_VERSION", "CheckpointError", "load_checkpoint", "save_checkpoint_file"]
