"""Sessions: tests, lint, typecheck, bench, demo (the same steps .ci/run takes)."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[s3,dask,report,test]")
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy", "src")


@nox.session
def bench(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/bench_parse.py", *session.posargs)
    session.run("python", "benchmarks/bench_extract.py", *session.posargs)
    session.run("python", "benchmarks/bench_summaries.py", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    session.install("-e", ".")
    session.run(
        "s3logextraction", "run", "examples/logs", "--cache", f"{session.create_tmp()}/cache", "--settle-seconds", "0"
    )
