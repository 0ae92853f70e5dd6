"""The Typer app (app.py) and the console script `main`: each command parses options and calls the
library function of the same name."""

from .app import app, main

__all__ = ["app", "main"]
