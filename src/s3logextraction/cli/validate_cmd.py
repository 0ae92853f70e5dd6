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
    """Run the parser's checks over raw log objects (nothing is written but the findings file)."""
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
    """Check the cache against its state DB, file modes, and that no raw IP is in clear text."""
    check = validate_cache(cache=load_settings({"cache": cache}).cache, quick=quick, password=current_password())
    for problem in check.problems:
        typer.echo(problem)
    for note in check.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(check.summary(), err=True)
    if not check.clean:
        raise FindingsError(f"{len(check.problems)} problems in the cache (listed above)")
