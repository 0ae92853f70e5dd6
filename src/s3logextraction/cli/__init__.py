"""The Typer app (app.py) and the console script `main`: each command parses options and calls the
library function of the same name."""

from .app import app, configure_process, main

__all__ = ["app", "configure_process", "main"]
