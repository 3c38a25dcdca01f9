"""The checkpoint file format: one ``torch.save`` dict of tensors, numbers and strings, so it loads with
``torch.load(weights_only=True)``. The keys and who writes each are listed in ``checkpoint/connector.py``; atomic
writes and safe loads are in ``checkpoint/io.py``; a module rebuilt from a checkpoint already read, in
``checkpoint/rebuild.py``."""

from flashtrain.core.checkpoint.io import FORMAT_VERSION, CheckpointError, load_checkpoint, save_checkpoint_file
from flashtrain.core.checkpoint.rebuild import module_from_checkpoint

__all__ = ["FORMAT_VERSION", "CheckpointError", "load_checkpoint", "module_from_checkpoint", "save_checkpoint_file"]
