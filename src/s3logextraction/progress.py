"""Progress: a tqdm bar on a terminal, nothing in CRON (the caller logs a one-line summary)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tqdm import tqdm


def on_terminal() -> bool:
    return sys.stderr.isatty()


@contextmanager
def progress_bar(*, total: int | None, unit: str, description: str, enabled: bool | None) -> Iterator[tqdm]:
    from tqdm import tqdm  # here: a command with nothing to do never shows a bar

    show = on_terminal() if enabled is None else enabled
    with tqdm(total=total, unit=unit, unit_scale=True, desc=description, disable=not show, file=sys.stderr) as bar:
        yield bar
