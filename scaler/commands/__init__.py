"""Sub-commands of the `scaler` CLI, one module each (see scaler/cli.py)."""
