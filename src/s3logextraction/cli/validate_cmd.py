"""`validate logs` and `validate cache`: exit 0 when clean, 1 with the problems listed."""

from pathlib import Path
from typing import Annotated

import typer

from ..config import MAX_COUNT, MAX_SECONDS, load_settings, resolve_workers
from ..errors import FindingsError
from ..validate import validate_cache, validate_logs
from .extract_cmd import log_source
from .ip_cmd import current_password
from .options import CacheOption, EndpointUrlOption, InventoryOption, LogSourceArgument, OperationsOption, WorkersOption

validate_app = typer.Typer(help="Check raw logs, or the cache, and list what is wrong.", no_args_is_help=True)


@validate_app.command("logs")
def logs_command(
    log_dir: LogSourceArgument,
    sample: Annotated[
        int | None,
        typer.Option(
            "--sample",
            min=1,
            max=MAX_COUNT,
            help="Check only N log objects, spread over the listing.",
            show_default=False,
        ),
    ] = None,
    findings: Annotated[
        Path, typer.Option("--findings", help="Where to write every finding (TSV: file, line, check, detail).")
    ] = Path("validate-findings.tsv"),
    window_hours: Annotated[
        float,
        typer.Option(
            "--window-hours",
            min=0,
            max=MAX_SECONDS / 3600,
            help="How long before its object's AWS name time a record may be.",
        ),
    ] = 24.0,
    workers: WorkersOption = None,
    operations: OperationsOption = None,
    endpoint_url: EndpointUrlOption = None,
    inventory: InventoryOption = None,
) -> None:
    """Run the parser's checks over raw log objects (nothing is written but the findings file).

    Run the parser's checks over raw log objects (any names, gzip or plain), in parallel gawk processes,
    writing nothing but the findings: rejected lines by reason; records of a kept operation whose time is
    outside their object's delivery window (from the AWS name `YYYY-MM-DD-HH-MM-SS-UNIQUE`: not later than the
    object's time plus 5 minutes, not more than `--window-hours` (24) before it); 200 responses that sent
    fewer bytes than the object's size (partial downloads, which the DANDI-compatible counts take as
    downloads); lines that the split-on-`HTTP/1.` heuristic of dandi/s3-log-extraction reads with another
    status or byte count (what changes when migrating from it); objects that cannot be read. Lines of other
    operations are skipped as `extract` skips them (`parse --all` shows every line). Prints a table (count,
    share, examples per check) and writes every finding to `--findings` (default `validate-findings.tsv`:
    file, line, check, detail; never a raw IP). `--sample N` checks N objects spread over the listing. Exit 0
    when clean, 1 with findings
    """
    settings = load_settings(
        {
            "cache": None,
            "workers": workers,
            "batch_size": None,
            "operations": operations,
            "settle_seconds": None,
            "s3_endpoint_url": endpoint_url,
            "s3_inventory": inventory,
        }
    )
    check = validate_logs(
        source=log_source(log_dir, settings),
        sample=sample,
        findings=findings,
        window_hours=window_hours,
        operations=settings.operations,
        workers=resolve_workers(settings.workers),
    )
    if not check.clean:
        typer.echo(check.table(), nl=False)
    typer.echo(check.summary(), err=True)
    if not check.clean:
        raise FindingsError(f"{sum(check.counts.values())} findings (see {findings})")
    findings.unlink(missing_ok=True)


@validate_app.command("cache")
def cache_command(
    cache: CacheOption = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Only the checks that read no row (as `run` does at its end).")
    ] = False,
) -> None:
    """Check the cache against its state DB, file modes, and that no raw IP is in clear text.

    Read-only, without the lock: every committed batch has exactly one shard and `shards/` holds nothing else
    (orphans are listed, not removed); each shard is readable, holds the rows its batch recorded, and only
    ip_ids of the IP index; a batch's lines read equal its log objects' lines; files are 0600 and folders
    0700; no indexed IP appears in clear text in any file (Parquet and Arrow files are decoded first; needs
    the key). `--quick` reads no row: names, modes, line counts and Parquet footers. Problems on stdout, one
    per line, exit 1; clean: exit 0
    """
    check = validate_cache(cache=load_settings({"cache": cache}).cache, quick=quick, password=current_password())
    for problem in check.problems:
        typer.echo(problem)
    for note in check.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(check.summary(), err=True)
    if not check.clean:
        raise FindingsError(f"{len(check.problems)} problems in the cache (listed above)")
