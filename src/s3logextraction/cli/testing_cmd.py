"""`testing generate benchmark`: the synthetic corpus tests and benchmarks use.

The testing package is imported only when this command runs: nothing else in the product needs it.
"""

from pathlib import Path
from typing import Annotated

import typer

from ..errors import UsageError
from ..sizes import parse_size

testing_app = typer.Typer(help="Test and benchmark helpers.", no_args_is_help=True)
generate_app = typer.Typer(help="Generate synthetic data.", no_args_is_help=True)
testing_app.add_typer(generate_app, name="generate")


def size_option(text: str, *, flag: str) -> int:
    try:
        return parse_size(text)
    except ValueError as error:
        raise UsageError(f"{flag}: {error}") from None


@generate_app.command("benchmark")
def benchmark(
    directory: Annotated[Path, typer.Argument(help="Output folder (logs/ and ground_truth.json).")],
    size: Annotated[str, typer.Option("--size", help="Total log bytes, e.g. 500M.")] = "100M",
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same corpus).")] = 0,
    file_size: Annotated[str, typer.Option("--file-size", help="Average log object size.")] = "2M",
) -> None:
    """Write a realistic log corpus and its exact ground truth.

    Synthetic realistic corpus plus `ground_truth.json`
    """
    from ..testing.generate import generate_benchmark

    truth = generate_benchmark(
        directory,
        size=size_option(size, flag="--size"),
        seed=seed,
        file_size=size_option(file_size, flag="--file-size"),
    )
    typer.echo(f"wrote {truth.log_objects} log objects, {truth.log_bytes} bytes, {truth.lines} lines to {directory}")
