"""`extract`, `stop`, `status` and `reset extraction`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from ..config import load_settings, resolve_workers
from ..extract import extract, reset_extraction, stop
from ..status import status
from ..testing.generate import parse_size
from .errors import reports_errors
from .options import CacheOption, JsonOption, WorkersOption, YesOption

log = logging.getLogger("s3logextraction")
reset_app = typer.Typer(help="Start a stage over on purpose.", no_args_is_help=True)


@reports_errors
def extract_command(
    log_dir: Annotated[Path, typer.Argument(help="Folder of raw S3 log objects (flat or date-partitioned).")],
    cache: CacheOption = None,
    workers: WorkersOption = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many new log objects.")] = None,
    batch_size: Annotated[
        str | None, typer.Option("--batch-size", help="Bytes of logs per gawk process, e.g. 64M.", show_default=False)
    ] = None,
    operations: Annotated[
        str | None, typer.Option("--operations", help="Comma-separated operations to keep (default REST.GET.OBJECT).")
    ] = None,
    index: Annotated[
        bool,
        typer.Option("--index/--no-index", help="Index each batch at once (--no-index: `update ip indexes` later)."),
    ] = True,
) -> None:
    """Extract new log objects into checkpointed shards (rerun-safe, stoppable)."""
    settings = load_settings(
        cache=cache,
        workers=workers,
        batch_size=parse_size(batch_size) if batch_size else None,
        operations=operations.split(",") if operations else None,
    )
    report = extract(
        log_dir,
        cache=settings.cache,
        workers=resolve_workers(settings.workers),
        limit=limit,
        batch_bytes=settings.batch_size,
        batch_files=settings.batch_files,
        operations=settings.operations,
        index=index,
        password=settings.password.get_secret_value() if settings.password else None,
    )
    typer.echo(report.summary(), err=True)


@reports_errors
def stop_command(
    cache: CacheOption = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the run to drain.")] = 600.0,
) -> None:
    """Ask a running extraction to finish its batches in flight and exit."""
    settings = load_settings(cache=cache)
    outcome = stop(cache=settings.cache, timeout=timeout)
    if not outcome.was_running:
        typer.echo(f"no extraction is running on {settings.cache}")
        return
    holder = outcome.holder or {}
    if not outcome.drained:
        typer.echo(f"pid {holder.get('pid')} is still draining after {timeout:.0f}s; it will stop when its batches end")
        raise typer.Exit(1)
    figures = status(cache=settings.cache)
    typer.echo(
        f"stopped pid {holder.get('pid')} after {outcome.seconds:.1f}s; committed: {figures['log_objects']} "
        f"log objects in {figures['batches']} batches; run extract again to do the rest"
    )


@reports_errors
def status_command(cache: CacheOption = None, as_json: JsonOption = False) -> None:
    """Where the cache stands: what is committed, rejected, waiting, and whether a run is going."""
    figures = status(cache=load_settings(cache=cache).cache)
    if as_json:
        typer.echo(json.dumps(figures, sort_keys=True))
        return
    running = figures["running"]
    lines = [
        f"cache:           {figures['cache']}",
        f"log objects:     {figures['log_objects']} in {figures['batches']} batches",
        f"lines:           {figures['lines_read']} read, {figures['lines_kept']} kept, "
        f"{figures['lines_rejected']} rejected",
        f"bytes sent:      {figures['bytes_sent']} (kept lines)",
        f"kept by status:  {', '.join(f'{k} {v}' for k, v in figures['kept_by_status'].items()) or '-'}",
        f"rejected:        {', '.join(f'{k} {v}' for k, v in figures['rejected_by_reason'].items()) or '-'}",
        f"pending index:   {figures['pending_index']} shards",
        "running:         "
        + (f"pid {running['pid']} ({running['command']}) since {running['since']}" if running else "no"),
    ]
    typer.echo("\n".join(lines))


@reset_app.command("extraction")
@reports_errors
def reset_extraction_command(cache: CacheOption = None, yes: YesOption = False) -> None:
    """Forget all extracted shards so the next extract starts over (the IP index is kept)."""
    root = load_settings(cache=cache).cache
    if not yes:
        typer.confirm(f"delete every extracted shard in {root}?", abort=True)
    removed = reset_extraction(cache=root)
    typer.echo(f"removed {removed} batches from {root}")
