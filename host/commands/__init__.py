"""The host's own CLI subcommands, each module a plugin like any other."""
