"""Where log objects come from.  A source lists `LogObject`s; identity is (name, size)."""

from .local import LogObject, discover_local

__all__ = ["LogObject", "discover_local"]
