"""Options shared by several commands, defined once."""

from pathlib import Path
from typing import Annotated

import typer

from ..config import MAX_COUNT, MAX_DAYS, MAX_LEVEL, MAX_SECONDS, MAX_WORKERS
from ..extract import ExecutorName
from ..operations import ExtractMode
from ..summarize import Mode

CacheOption = Annotated[
    Path | None,
    typer.Option(
        "--cache", help="Cache directory (default: the configured one, see `config cache show`).", show_default=False
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=-MAX_WORKERS,
        max=MAX_WORKERS,
        help="Parallel gawk processes; negative counts back from all cores (-1 all, -2 all but one). Default -2; "
        "0 is refused.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
PrivacyThresholdOption = Annotated[
    int | None,
    typer.Option(
        "--privacy-threshold",
        min=1,
        max=MAX_COUNT,
        help="Counts below this are published as <N (default 50).",
        show_default=False,
    ),
]
PrivacyRoundingOption = Annotated[
    int | None,
    typer.Option(
        "--privacy-rounding",
        min=1,
        max=MAX_COUNT,
        help="Other counts are rounded to this (default 20).",
        show_default=False,
    ),
]
ModeOption = Annotated[
    Mode | None,
    typer.Option(
        "--mode",
        help="generic (datasets by key prefix), dandi (dandisets) or archive (archive-wide). Default: the mode "
        "setting.",
        show_default=False,
    ),
]
ExtractModeOption = Annotated[
    ExtractMode | None,
    typer.Option(
        "--mode",
        help="generic (every key) or dandi (blobs/ and zarr/ only). Default: the mode setting.",
        show_default=False,
    ),
]
ApiUrlOption = Annotated[
    str | None,
    typer.Option("--api-url", help="DANDI API for --mode dandi (default: the DANDI archive's).", show_default=False),
]
MappingOption = Annotated[
    str | None,
    typer.Option(
        "--mapping", help="A {content_id: {dandiset_id: path}} JSON file or URL instead of the API.", show_default=False
    ),
]
LevelOption = Annotated[
    int, typer.Option("--level", min=1, max=MAX_LEVEL, help="Key path segments that name a dataset.")
]
LimitOption = Annotated[
    int | None,
    typer.Option("--limit", min=0, max=MAX_COUNT, help="At most this many new log objects.", show_default=False),
]
BatchSizeOption = Annotated[
    str | None,
    typer.Option(
        "--batch-size",
        help="Bytes of logs per gawk process at most, e.g. 64M (default; less when there is too little work "
        "to keep every worker busy to the end).",
        show_default=False,
    ),
]
OperationsOption = Annotated[
    str | None,
    typer.Option(
        "--operations", help="Comma-separated operations to keep (default REST.GET.OBJECT).", show_default=False
    ),
]
SettleOption = Annotated[
    float | None,
    typer.Option(
        "--settle-seconds",
        min=0,
        max=MAX_SECONDS,
        help="Leave files modified this recently for the next run (they may still be written). Default 600.",
        show_default=False,
    ),
]
SettleDaysOption = Annotated[
    int | None,
    typer.Option(
        "--settle-days",
        min=0,
        max=MAX_DAYS,
        help="Leave objects of the newest N UTC days for a later run (AWS delivers late). Default 1 for s3://, else 0.",
        show_default=False,
    ),
]
EndpointUrlOption = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        help="S3 endpoint of an s3:// source (another region or an S3-compatible store).",
        show_default=False,
    ),
]
InventoryOption = Annotated[
    Path | None,
    typer.Option(
        "--inventory",
        help="List an s3:// source from this local copy of its S3 Inventory (newest manifest), not a live listing.",
        show_default=False,
    ),
]
ExecutorOption = Annotated[
    ExecutorName | None,
    typer.Option(
        "--executor",
        help="Where batches are parsed: local (threads here) or dask (a Dask cluster). Default local.",
        show_default=False,
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="With --executor dask: the scheduler's address (tcp://HOST:8786); without it a local cluster.",
        show_default=False,
    ),
]
LogSourceArgument = Annotated[
    str,
    typer.Argument(
        help="Folder of raw S3 log objects (flat or date-partitioned), or s3://BUCKET/PREFIX.", show_default=False
    ),
]
RetryFailedOption = Annotated[
    bool, typer.Option("--retry-failed", help="Retry objects that failed before, even if unchanged.")
]
FullListingOption = Annotated[
    bool,
    typer.Option(
        "--full-listing",
        help="List every object of an s3:// source, not only the days from just before the newest committed one "
        "(after an outage longer than the settle window, or a late copy into old days).",
    ),
]
