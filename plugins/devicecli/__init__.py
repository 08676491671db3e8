"""`python -m host device`: the CLI of the device profiles (see plugin.py)."""
