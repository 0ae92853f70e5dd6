"""What one publish is told, as one typed object built once (from the settings and flags by the
CLI, or by a library caller) and passed down to the summaries, the totals and `run`."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..agents import CounterRules
from ..datasets import check_level
from ..datasets.dandi import DandiSource
from .privacy import Privacy


@dataclass(frozen=True, kw_only=True)
class PublishOptions:
    """A dataset is the first `level` key segments (generic mode); `privacy` is the threshold and
    rounding of published counts; `counter` says which agents are machine clients; `dandi` is
    where DANDI attribution comes from (None: the DANDI API at its default URL)."""

    level: int = 1
    privacy: Privacy = field(default_factory=Privacy)
    counter: CounterRules = field(default_factory=CounterRules)
    dandi: DandiSource | None = None

    def __post_init__(self) -> None:
        check_level(self.level)
