"""Frolic's tooling: the local stack, the crowd, the simulator, the CLI, charts.

It depends on the runtime package `frolic` and never the other way round (the import
contracts in pyproject.toml say so, and `make lint` checks them). None of it ships in
the Lambda layer.
"""
