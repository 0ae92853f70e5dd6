"""`update summaries` and `update totals`: the published figures, recomputed from indexed shards
(updates.py runs them over store.py's aggregate store, aggregate.py's attribution and
publish.py's writers)."""

from .options import PublishOptions
from .updates import (
    Mode,
    SummaryReport,
    everything,
    publish,
    publish_coordinates,
    publish_into,
    update_summaries,
    update_totals,
)

__all__ = [
    "Mode",
    "PublishOptions",
    "SummaryReport",
    "everything",
    "publish",
    "publish_coordinates",
    "publish_into",
    "update_summaries",
    "update_totals",
]
