"""Command groups of the `assist` CLI that live outside cli.py; each module imports only typer at load time."""
