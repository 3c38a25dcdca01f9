"""flashtrain.cli: the ``flash-train`` command."""
