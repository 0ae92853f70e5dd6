"""`testing generate benchmark`: the synthetic corpus tests and benchmarks use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..testing.generate import generate_benchmark, parse_size
from .errors import reports_errors

testing_app = typer.Typer(help="Test and benchmark helpers.", no_args_is_help=True)
generate_app = typer.Typer(help="Generate synthetic data.", no_args_is_help=True)
testing_app.add_typer(generate_app, name="generate")


@generate_app.command("benchmark")
@reports_errors
def benchmark(
    directory: Annotated[Path, typer.Argument(help="Output folder (logs/ and ground_truth.json).")],
    size: Annotated[str, typer.Option("--size", help="Total log bytes, e.g. 500M.")] = "100M",
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same corpus).")] = 0,
    file_size: Annotated[str, typer.Option("--file-size", help="Average log object size.")] = "2M",
) -> None:
    """Write a realistic log corpus and its exact ground truth."""
    truth = generate_benchmark(directory, size=parse_size(size), seed=seed, file_size=parse_size(file_size))
    typer.echo(f"wrote {truth.log_objects} log objects, {truth.log_bytes} bytes, {truth.lines} lines to {directory}")
