"""One module per ``flash-train`` subcommand: each adds its flags and runs (parse, build, call)."""
