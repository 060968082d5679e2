"""Command-line entry points: thin typer commands over the packages that do the work."""
