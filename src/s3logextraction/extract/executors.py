"""Where batches are parsed: threads of this process (`local`), or a Dask cluster (`dask`, the
`[dask]` extra) when one machine is not enough.

Either way the engine sees a `concurrent.futures.Executor` and only this process commits, so
exactly-once holds as with the local pool.  A Dask task parses one batch on a worker (which needs
gawk, this package and read access to the logs: the same folder path, or S3) in a scratch folder
of its own, drops excluded IPs there, and returns the rows.  Those rows hold raw IPs in memory on
their way back: the cluster this module starts never spills to disk (no memory limit), and the
README asks the same of an existing cluster's workers.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import MissingToolError, ServiceError
from ..sources import LogObject, LogSource
from .options import ExecutorName
from .runner import BatchResult, ChildProcesses, ParserOptions, run_batch

INSTALL_HINT = "--executor dask needs the [dask] extra: pip install 's3logextraction[dask]'"


Submit = Callable[..., "Future[BatchResult]"]  # called with batch_id, objects, source and parser


@contextlib.contextmanager
def batch_executor(
    *, executor: ExecutorName | str, workers: int, scheduler: str | None, staging: Path, children: ChildProcesses
) -> Iterator[Submit]:
    """How to start one batch: `run_batch` on a thread here, in the cache's staging folder with
    `children` tracked for an abort, or on a Dask worker in a scratch folder of its own."""
    if ExecutorName(executor) is ExecutorName.local:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gawk") as pool:
            yield lambda **batch: pool.submit(run_batch, staging=staging, children=children, **batch)
        return
    with dask_client(workers=workers, scheduler=scheduler) as client:
        remote: Executor = client.get_executor(pure=False)
        try:
            yield lambda **batch: remote.submit(run_batch_on_worker, **batch)
        finally:
            remote.shutdown(wait=False)


@contextlib.contextmanager
def dask_client(*, workers: int, scheduler: str | None) -> Iterator[Any]:
    """A client of the cluster at `scheduler`, or of a LocalCluster of `workers` threads started
    here (the parsing happens in gawk children, so threads are enough, and a terminal's Ctrl+C
    reaches only this process and its drain logic), every port of it on loopback."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise MissingToolError(INSTALL_HINT) from None
    if scheduler is not None:
        try:  # the connect timeout is Dask's (distributed.comm.timeouts.connect, 30 s)
            client = Client(scheduler, set_as_default=False)
        except (OSError, TimeoutError) as error:
            raise ServiceError(f"cannot reach the Dask scheduler at {scheduler} ({type(error).__name__})") from None
        with client:
            yield client
        return
    cluster = LocalCluster(
        n_workers=1,
        threads_per_worker=workers,
        processes=False,
        memory_limit=0,  # no spilling: results hold raw IPs
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        worker_dashboard_address="127.0.0.1:0",
    )
    with cluster, Client(cluster, set_as_default=False) as client:
        yield client


def run_batch_on_worker(
    *, batch_id: str, objects: Sequence[LogObject], source: LogSource, parser: ParserOptions
) -> BatchResult:
    """`run_batch` on a machine that does not hold the cache: FIFOs and the meta file in a
    scratch folder of its own, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="s3logextraction-worker-") as scratch:
        return run_batch(
            batch_id=batch_id,
            objects=objects,
            source=source,
            staging=Path(scratch),
            parser=parser,
            children=ChildProcesses(),
        )
