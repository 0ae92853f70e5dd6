"""Which user agents are robots, machine clients or regular users, for the COUNTER metrics.

COUNTER's lists (package `counter-robots`) decide, except that the configured allow-list of
machine clients wins over the robots list: scientific clients such as boto3, fsspec, dandi-cli or
python-requests are real users of a data archive, and COUNTER's robots list names `python`,
`curl/` and `Wget`.  Light on purpose: the settings import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from .errors import ConfigError

ROBOT, MACHINE, REGULAR = -1, 0, 1  # codes into ACCESS_METHODS; robots are dropped
DEFAULT_MACHINE_CLIENTS = (
    "boto3", "botocore", "aws-cli", "aws-sdk", "s3fs", "fsspec", "dandi", "python-requests", "aiohttp",
    "datalad", "git-annex", "rclone", "h5py", "remfile", "pynwb", "urllib3", "curl", "wget", "cyberduck",
)  # fmt: skip


@dataclass(frozen=True)
class CounterRules:
    """Which user agents are machine clients counted as users (regular expressions, matched
    case-insensitively anywhere in the agent), on top of COUNTER's lists."""

    machine_clients: tuple[str, ...] = DEFAULT_MACHINE_CLIENTS

    def __post_init__(self) -> None:
        for pattern in self.machine_clients:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ConfigError(
                    f"invalid setting counter_machine_clients: {pattern!r} is not a pattern ({error})"
                ) from None

    @cached_property
    def allowed(self) -> re.Pattern[str] | None:
        patterns = "|".join(f"(?:{pattern})" for pattern in self.machine_clients)
        return re.compile(patterns, re.IGNORECASE) if patterns else None

    @property
    def token(self) -> str:
        """What the classification depends on: stored with the sums, recomputed when it changes."""
        import counter_robots

        return f"counter-robots {counter_robots.__version__}; machine clients {list(self.machine_clients)}"

    def classify(self, agent: str) -> int:
        import counter_robots

        if self.allowed is not None and self.allowed.search(agent):
            return MACHINE
        if counter_robots.is_robot(agent):
            return ROBOT
        return MACHINE if counter_robots.is_machine(agent) else REGULAR
