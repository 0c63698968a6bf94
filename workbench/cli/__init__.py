"""The CLI: `tlwb` and its subcommands, the one composition root.

The only part that may import both the core (`workbench.*`) and the TUI (`screens`, imported
lazily when `tlwb` runs with no subcommand). `commands` holds the typer commands, `report` and
`progress` their rich output.
"""

from .commands import app, main

__all__ = ["app", "main"]
