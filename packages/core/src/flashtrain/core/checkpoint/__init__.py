"""The checkpoint file format (see DESIGN.md): one ``torch.save`` dict of tensors, numbers and strings."""

from flashtrain.core.checkpoint.io import FORMAT_VERSION, CheckpointError, load_checkpoint, save_checkpoint_file

__all__ = ["FORMAT_VERSION", "CheckpointError", "load_checkpoint", "save_checkpoint_file"]
