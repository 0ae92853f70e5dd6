"""`extract`, `stop`, `status` and `reset extraction`."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ..config import MAX_SECONDS, Settings, load_settings, resolve_workers, revealed
from ..errors import PartialError
from ..extract import ExecutorName, ExtractOptions, ExtractReport, extract, reset_extraction, stop
from ..operations import ExtractMode
from ..sources import LogSource, open_source
from ..status import status
from .options import (
    BatchSizeOption,
    CacheOption,
    EndpointUrlOption,
    ExecutorOption,
    ExtractModeOption,
    FullListingOption,
    InventoryOption,
    JsonOption,
    LimitOption,
    LogSourceArgument,
    OperationsOption,
    RetryFailedOption,
    SchedulerOption,
    SettleDaysOption,
    SettleOption,
    WorkersOption,
    YesOption,
)
from .signals import drain_on_first_signal

reset_app = typer.Typer(help="Start a stage over on purpose.", no_args_is_help=True)


def extract_options(
    settings: Settings, *, limit: int | None, retry_failed: bool, full_listing: bool = False
) -> ExtractOptions:
    """The extraction options of `extract` and `run`, built once from the settings (and the flags
    in them)."""
    return ExtractOptions(
        workers=resolve_workers(settings.workers),
        limit=limit,
        batch_bytes=settings.batch_size,
        batch_files=settings.batch_files,
        operations=tuple(settings.operations),
        settle_seconds=settings.settle_seconds,
        settle_days=settings.settle_days,
        executor=ExecutorName(settings.executor),
        scheduler=settings.dask_scheduler,
        retry_failed=retry_failed,
        full_listing=full_listing,
        mode=settings.mode,
        password=revealed(settings.password),
    )


def log_source(location: str, settings: Settings) -> LogSource:
    """The command line's log location as a source, with the S3 settings for an s3:// one."""
    return open_source(location, endpoint_url=settings.s3_endpoint_url, inventory=settings.s3_inventory)


def extraction_flags(
    *,
    cache: Path | None,
    workers: int | None,
    batch_size: str | None,
    operations: str | None,
    settle_seconds: float | None,
    settle_days: int | None,
    endpoint_url: str | None,
    inventory: Path | None,
    executor: ExecutorName | None,
    scheduler: str | None,
    mode: ExtractMode | None,
) -> dict[str, object]:
    """The extraction flags of `extract` and `run`, by the setting each one gives."""
    return {
        "cache": cache, "workers": workers, "batch_size": batch_size, "operations": operations,
        "settle_seconds": settle_seconds, "settle_days": settle_days, "s3_endpoint_url": endpoint_url,
        "s3_inventory": inventory, "executor": executor, "dask_scheduler": scheduler, "mode": mode,
    }  # fmt: skip


def attribution_line(recorded: dict[str, Any] | None) -> str:
    """Where the stored DANDI attribution came from, and when it was refreshed."""
    if recorded is None:
        return "- (no DANDI publish yet)"
    where = recorded.get("api_url") or f"{recorded.get('mapping')} (sha256 {recorded.get('sha256', '')[:12]})"
    return f"{where} (refreshed {recorded.get('refreshed_at')})"


def check_complete(report: ExtractReport) -> None:
    """Exit 3 when objects failed (this run or earlier, unchanged since): the rest is published."""
    failed = len(report.failed) + report.failed_earlier
    if failed:
        raise PartialError(f"{failed} log objects could not be read; everything else is done (see `status`)")


def extract_command(
    log_dir: LogSourceArgument,
    cache: CacheOption = None,
    workers: WorkersOption = None,
    limit: LimitOption = None,
    batch_size: BatchSizeOption = None,
    operations: OperationsOption = None,
    settle_seconds: SettleOption = None,
    settle_days: SettleDaysOption = None,
    endpoint_url: EndpointUrlOption = None,
    inventory: InventoryOption = None,
    executor: ExecutorOption = None,
    scheduler: SchedulerOption = None,
    retry_failed: RetryFailedOption = False,
    full_listing: FullListingOption = False,
    mode: ExtractModeOption = None,
) -> None:
    """Extract new log objects into checkpointed, indexed shards (rerun-safe, stoppable).

    Extract new log objects into indexed shards; every regular non-hidden file under LOG_DIR is a log object
    (plain, gzip, bzip2, xz or zstd; symlinked folders followed once), identified by its name relative to
    LOG_DIR; files modified in the last `--settle-seconds` (default 600) wait for the next run; objects of the
    newest `--settle-days` UTC days wait too (default 1 for `s3://`, 0 for a folder); objects that cannot be
    read are recorded and retried when they change (or with `--retry-failed`); `--workers` negative counts
    back from all cores (default -2: all but one). `s3://` sources: see the README's Logs in S3; `--executor dask`: see
    its More than one machine
    """
    settings = load_settings(
        extraction_flags(
            cache=cache, workers=workers, batch_size=batch_size, operations=operations, settle_seconds=settle_seconds,
            settle_days=settle_days, endpoint_url=endpoint_url, inventory=inventory, executor=executor,
            scheduler=scheduler, mode=mode,
        )
    )  # fmt: skip
    source = log_source(log_dir, settings)
    with drain_on_first_signal() as stop_event:
        report = extract(
            source,
            cache=settings.cache,
            options=extract_options(settings, limit=limit, retry_failed=retry_failed, full_listing=full_listing),
            stop=stop_event,
        )
    typer.echo(report.summary(), err=True)
    check_complete(report)


def stop_command(
    cache: CacheOption = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0, max=MAX_SECONDS, help="Seconds to wait for the run to drain.")
    ] = 600.0,
) -> None:
    """Ask a running extraction (or `run`) to finish its batches in flight and exit.

    Ask a running `extract` or `run` to finish its batches in flight and exit; waits until it has. With
    nothing running, a run that starts within the next moments stops at once (the request is kept in `STOP`; a
    run started later ignores it)
    """
    settings = load_settings({"cache": cache})
    outcome = stop(cache=settings.cache, timeout=timeout)
    if not outcome.was_running:
        typer.echo(f"no extraction is running on {settings.cache}; one starting now will stop at once")
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


def by_reason(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items()) or "-"


def status_command(cache: CacheOption = None, inventory: InventoryOption = None, as_json: JsonOption = False) -> None:
    """Where the cache stands: what is committed, skipped, rejected, failed, and whether a run is going.

    The source last extracted; log objects and batches; lines read = kept + skipped (by reason: operation,
    status) + rejected (by reason; a whole-looking line of another operation is counted as skipped without
    being validated, so only `parse` tells whether it was malformed); bytes; kept lines per status; failed
    objects (with the reason) and changed objects (size or modification time changed after their commit: an
    object replaced by one of the same size too); the kept operations and mode; sealed folders (and their log
    objects); shards pending indexing; the running command, and for a running extraction its objects and bytes
    done, rate and ETA; with `--inventory`, how many of the log objects a
    local copy of the source bucket's S3 Inventory lists are committed, and the percentage
    """
    figures = status(cache=load_settings({"cache": cache}).cache, inventory=inventory)
    if as_json:
        typer.echo(json.dumps(figures, sort_keys=True))
        return
    running = figures["running"]
    lines = [
        f"cache:           {figures['cache']}",
        f"source:          {figures['source'] or '-'} (the last extracted)",
        f"log objects:     {figures['log_objects']} in {figures['batches']} batches "
        f"(operations {figures['operations'] or '-'}, mode {figures['mode'] or '-'})",
        f"lines:           {figures['lines_read']} read = {figures['lines_kept']} kept + "
        f"{figures['lines_skipped']} skipped + {figures['lines_rejected']} rejected",
        f"bytes sent:      {figures['bytes_sent']} (kept lines)",
        f"kept by status:  {by_reason(figures['kept_by_status'])}",
        f"skipped:         {by_reason(figures['skipped_by_reason'])}",
        f"rejected:        {by_reason(figures['rejected_by_reason'])}",
        f"failed objects:  {len(figures['failed_objects'])}",
        *(f"  {entry['name']}: {entry['reason']}" for entry in figures["failed_objects"]),
        f"changed objects: {len(figures['changed_objects'])} (size or mtime changed after commit; not counted again)",
        *(
            f"  {entry['name']}: {entry['committed_size']} -> {entry['seen_size']} bytes"
            + (", modified again" if entry["committed_mtime_ns"] not in (None, entry["seen_mtime_ns"]) else "")
            for entry in figures["changed_objects"]
        ),
        f"sealed folders:  {figures['sealed_folders']['folders']} ({figures['sealed_folders']['log_objects']} log "
        "objects; not read again until they change)",
        f"dandi attribution: {attribution_line(figures['dandi_attribution'])}",
        f"pending index:   {figures['pending_index']} shards",
        f"IPs:             {figures['ips']['indexed']} indexed, {figures['ips']['classified']} classified "
        f"({by_reason({name: n for name, n in figures['ips']['by_class'].items() if n})})",
        *(f"  {source}: {count}" for source, count in figures["ips"]["sources"].items()),
        f"regions:         {figures['regions']['labels']} labels, {figures['regions']['with_coordinates']} with "
        f"coordinates; without: {', '.join(figures['regions']['without_coordinates']) or '-'}",
        "running:         "
        + (f"pid {running['pid']} ({running['command']}) since {running['since']}" if running else "no"),
        *([f"  {standing_line(figures['progress'])}"] if figures["progress"] else []),
    ]
    if "inventory" in figures:
        listed = figures["inventory"]
        lines.append(f"inventory:       {listed['committed']} of {listed['log_objects']} log objects committed "
                     f"({listed['percent']}%)")  # fmt: skip
    typer.echo("\n".join(lines))


def standing_line(progress: dict[str, Any]) -> str:
    """Where the running extraction stands: objects and bytes done, the rate and the ETA."""
    total = progress["objects_to_do"]
    of = "?" if total is None else str(total)
    listing = "" if progress["listing_finished"] else " (so far: still listing)"
    eta = progress["eta_seconds"]
    left = "unknown" if eta is None else f"{eta // 3600}h{eta % 3600 // 60:02d}m{eta % 60:02d}s"
    return (
        f"extract: {progress['objects_done']} of {of} objects{listing}, {progress['bytes_done'] / 1e6:,.1f} MB, "
        f"{progress['objects_per_second']} objects/s ({progress['bytes_per_second'] / 1e6:.1f} MB/s), ETA {left} "
        f"(at {progress['updated_at']})"
    )


@reset_app.command("extraction")
def reset_extraction_command(cache: CacheOption = None, yes: YesOption = False) -> None:
    """Forget all extracted shards so the next extract starts over (the IP index is kept).

    Forget every extracted shard (asks first)
    """
    root = load_settings({"cache": cache}).cache
    if not yes:
        typer.confirm(f"delete every extracted shard in {root}?", abort=True)
    removed = reset_extraction(cache=root)
    typer.echo(f"removed {removed} batches from {root}")
