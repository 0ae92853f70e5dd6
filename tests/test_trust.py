"""Trust, round two: no requester address in clear at rest, one address one requester, no log
object silently lost (recompressed, binary, replaced or growing objects), a published set
replaced as a whole even when the publish is killed at its first rename."""

from __future__ import annotations

import bz2
import functools
import gzip
import hashlib
import ipaddress
import itertools
import lzma
import os
import random
import signal
import sqlite3
import subprocess
import tarfile
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pytest
import zstandard

from s3logextraction import extract, status
from s3logextraction.addresses import canonical_ip, masked_agent, maybe_not_canonical
from s3logextraction.datasets import dataset_folder

from .conftest import age, as_version_8, cli, committed_of, killed_at_event
from .test_extract import ips_and_agents, shard_rows
from .test_parser import GOOD


def line(*, ip: str = "192.0.2.10", agent: str = "curl/8.5.0", key: str = "ds/file.bin", sent: int = 100) -> bytes:
    text = GOOD.replace("192.0.2.10", ip).replace("curl/8.5.0", agent).replace("data/file.bin", key)
    return text.replace(" 1024 2048 ", f" {sent} 2048 ").encode()


def logs(folder: Path, objects: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in objects.items():
        (folder / name).write_bytes(data)
    return age(folder)


def test_addresses_quoted_in_user_agents_never_reach_the_disk(tmp_path: Path) -> None:
    agents = {
        "curl/8.0 (via 81.2.69.217)": "curl/8.0 (via <ip>)",
        "proxy fwd=[2A00:1450:4001:81C::200F]:443 python-requests/2.31": "proxy fwd=[<ip>]:443 python-requests/2.31",
        "Mozilla/5.0 Chrome/120.0.6099.109 Safari/537.36": "Mozilla/5.0 Chrome/120.0.6099.109 Safari/537.36",
        "libwww-perl LWP::UserAgent 12:30:45": "libwww-perl LWP::UserAgent 12:30:45",
    }
    folder = logs(tmp_path / "logs", {"a": b"\n".join(line(agent=agent) for agent in agents) + b"\n"})
    cache = tmp_path / "cache"
    result = cli("run", str(folder), "--cache", str(cache))
    assert result.returncode == 0, result.stderr
    _, stored = ips_and_agents(cache)
    assert sorted(stored.values()) == sorted(agents.values())
    for leaked in (b"81.2.69.217", b"2A00:1450:4001:81C::200F", b"2a00:1450:4001:81c::200f"):
        for path in cache.rglob("*"):
            if path.is_file():
                assert leaked not in path.read_bytes(), path
    # COUNTER still classifies the masked agents: curl and python-requests are machine clients,
    # Chrome a regular user, libwww-perl a robot (dropped)
    counter = (cache / "summaries" / "ds" / "counter_by_month.tsv").read_text().splitlines()
    assert counter[1:] == ["2019-02\tMachine\t<50\t<50", "2019-02\tRegular\t<50\t<50"]
    validated = cli("validate", "cache", "--cache", str(cache))
    assert validated.returncode == 0, validated.stdout + validated.stderr


def test_an_older_cache_has_its_stored_agents_masked(tmp_path: Path) -> None:
    folder = logs(tmp_path / "logs", {"a": line(agent="curl/8.0 (via 81.2.69.217)") + b"\n"})
    cache = tmp_path / "cache"
    extract(folder, cache=cache)
    db = sqlite3.connect(cache / "state.sqlite")
    db.execute("INSERT INTO user_agents VALUES (90, ?)", (b"curl/8.0 (via 198.51.100.1)",))
    db.execute("INSERT INTO user_agents VALUES (91, ?)", (b"wget 2001:db8::7",))
    db.execute("UPDATE user_agents SET text = ? WHERE user_agent_id = 1", (b"curl/8.0 (via 81.2.69.217)",))
    as_version_8(db)
    db.execute("ALTER TABLE changed_objects DROP COLUMN committed_mtime_ns")
    db.execute("ALTER TABLE changed_objects DROP COLUMN seen_mtime_ns")
    db.execute("PRAGMA user_version = 7")
    db.commit()
    db.close()
    extract(folder, cache=cache)  # the first writer migrates
    _, stored = ips_and_agents(cache)
    assert stored == {"1": "curl/8.0 (via <ip>)", "90": "curl/8.0 (via <ip>) (agent 90)", "91": "wget <ip>"}


def test_one_address_however_written_is_one_requester(tmp_path: Path) -> None:
    forms = ["2A00:1450:4001:81C::200F", "2a00:1450:4001:081c:0:0:0:200f", "2a00:1450:4001:81c::200f"]
    mapped = ["::ffff:192.0.2.7", "192.0.2.7"]
    not_addresses = ["999.1.1.1", "81.2.69.7:443", "01.2.3.4"]
    lines = [line(ip=ip) for ip in forms + mapped + not_addresses]
    folder = logs(tmp_path / "logs", {"a": b"\n".join(lines) + b"\n"})
    cache = tmp_path / "cache"
    report = extract(folder, cache=cache)
    assert report.lines_kept == 5
    assert dict(report.rejected) == {"invalid_remote_ip": 3}
    ips, _ = ips_and_agents(cache)
    assert sorted(ips.values()) == ["192.0.2.7", "2a00:1450:4001:81c::200f"]
    assert sorted(row[6] for row in shard_rows(cache)).count(next(k for k, v in ips.items() if ":" in v)) == 3


def written_forms(address: ipaddress.IPv6Address, rng: random.Random) -> list[str]:
    """Ways a log can write one address: canonical, exploded, upper case, uncompressed, a zero run
    compressed that may not be the longest, leading zeros kept at random."""
    groups = address.exploded.split(":")
    bare = [group.lstrip("0") or "0" for group in groups]
    forms = [str(address), address.exploded, address.exploded.upper(), str(address).upper(), ":".join(bare)]
    zeros = [index for index, group in enumerate(bare) if group == "0"]
    if zeros:
        start = end = rng.choice(zeros)
        while end + 1 < 8 and bare[end + 1] == "0" and rng.random() < 0.7:
            end += 1
        forms.append(":".join(bare[:start]) + "::" + ":".join(bare[end + 1 :]))
    forms.append(":".join(rng.choice([group, short]) for group, short in zip(groups, bare, strict=True)))
    return forms


def test_only_addresses_that_may_be_written_otherwise_are_parsed_again() -> None:
    """The vectorised pre-filter never lets a non-canonical form through (that would make one
    requester two); checked against Python's RFC 5952 writer on many forms of many addresses."""
    rng = random.Random(5952)
    addresses = [
        ipaddress.IPv6Address(
            functools.reduce(
                lambda bits, _: bits << 16 | (0 if rng.random() < 0.35 else rng.choice([rng.getrandbits(16), 0xFFFF])),
                range(8),
                0,
            )
        )
        for _ in range(4000)
    ]
    written = [form for address in addresses for form in written_forms(address, rng)]
    written += [
        "::ffff:102:304",
        "::ffff:192.0.2.1",
        "0::1",
        "1:0::",
        "::1",
        "::",
        "1::",
        "1:0:0:2::3",
        "1:2:3::5:6:7:8",
    ]
    passed = [
        form
        for form, suspect in zip(written, maybe_not_canonical(pa.array(written, pa.binary())).to_pylist(), strict=True)
        if not suspect
    ]
    assert len(passed) > len(addresses) / 2  # the canonical forms pass: the filter is worth having
    assert [form for form in passed if canonical_ip(form.encode()) != form.encode()] == []


def plain_lines(count: int) -> bytes:
    return b"".join(line(ip=f"198.51.100.{n % 200 + 1}", sent=n) + b"\n" for n in range(count))


def test_recompressed_objects_count_like_plain_ones_and_binary_objects_fail(tmp_path: Path) -> None:
    data = plain_lines(300)
    half = len(data) // 2
    tarball = tmp_path / "stray.tar"
    with tarfile.open(tarball, "w") as archive:
        member = tmp_path / "inside.log"
        member.write_bytes(data[:half])
        archive.add(member, arcname="inside.log")
    objects = {
        "2019-02-06-00-00-01-GZ": gzip.compress(data),
        "2019-02-06-00-00-02-BZ": bz2.compress(data[:half]) + bz2.compress(data[half:]),  # two streams
        "2019-02-06-00-00-03-XZ": lzma.compress(data),
        "2019-02-06-00-00-04-ZS": zstandard.ZstdCompressor().compress(data[:half])
        + zstandard.ZstdCompressor().compress(data[half:]),  # two frames
        "2019-02-06-00-00-05-TAR": tarball.read_bytes(),
        "2019-02-06-00-00-06-TGZ": gzip.compress(tarball.read_bytes()),
        "2019-02-06-00-00-07-ZIP": b"PK\x03\x04" + os.urandom(200),
        "2019-02-06-00-00-08-XZCUT": lzma.compress(data)[:-40],
    }
    folder = logs(tmp_path / "logs", objects)
    cache = tmp_path / "cache"
    result = cli("extract", str(folder), "--cache", str(cache))
    assert result.returncode == 3, result.stderr
    figures = status(cache=cache)
    reasons = {entry["name"]: entry["reason"] for entry in figures["failed_objects"]}
    assert reasons == {
        "2019-02-06-00-00-05-TAR": "binary object (tar), not a text log",
        "2019-02-06-00-00-06-TGZ": "binary object (tar), not a text log",
        "2019-02-06-00-00-07-ZIP": "binary object (zip), not a text log",
        "2019-02-06-00-00-08-XZCUT": reasons["2019-02-06-00-00-08-XZCUT"],
    }
    assert reasons["2019-02-06-00-00-08-XZCUT"].startswith(("truncated xz object", "corrupt xz object"))
    assert figures["log_objects"] == 4
    assert figures["lines_read"] == figures["lines_kept"] == 4 * 300
    assert figures["lines_rejected"] == 0
    assert figures["bytes_sent"] == 4 * sum(range(300))
    again = cli("extract", str(folder), "--cache", str(cache))
    assert again.returncode == 3 and "4 failed earlier and unchanged" in again.stderr


def test_an_object_replaced_by_one_of_the_same_size_is_a_changed_object(tmp_path: Path) -> None:
    folder = logs(tmp_path / "logs", {"a": line(sent=100) + b"\n", "b": line(sent=200) + b"\n"})
    cache = tmp_path / "cache"
    extract(folder, cache=cache)
    replaced = folder / "a"
    replaced.write_bytes(line(sent=300) + b"\n")  # same size, another line
    moment = time.time() - 1800
    os.utime(replaced, (moment, moment))
    report = extract(folder, cache=cache)
    assert report.objects_done == 0 and report.objects_changed == 1
    changed = status(cache=cache)["changed_objects"]
    assert [(entry["name"], entry["committed_size"], entry["seen_size"]) for entry in changed] == [
        ("a", len(line(sent=100)) + 1, len(line(sent=100)) + 1)
    ]
    assert changed[0]["committed_mtime_ns"] != changed[0]["seen_mtime_ns"]
    shown = cli("status", "--cache", str(cache))
    assert "a: 84 -> 84 bytes, modified again".replace("84", str(len(line()) + 1)) in shown.stdout + shown.stderr


def test_an_object_that_grows_while_gawk_reads_it_is_not_committed_with_its_listed_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gawk wrapper first on PATH appends a line to the object before gawk reads it: what gawk
    reads is then more than was listed.  The object is left for a later run, never recorded
    with a size and a line count that disagree; the next run commits it whole."""
    folder = logs(tmp_path / "logs", {"growing": line(sent=1) + b"\n", "steady": line(sent=2) + b"\n"})
    growing = folder / "growing"
    wrapper = tmp_path / "bin" / "gawk"
    wrapper.parent.mkdir()
    real = subprocess.run(["which", "gawk"], capture_output=True, text=True, check=True).stdout.strip()
    wrapper.write_text(
        textwrap.dedent(f"""\
            #!/bin/sh
            if [ ! -e {tmp_path}/grown ]; then
                printf '%s\\n' '{line(sent=3).decode()}' >> {growing}
                touch {tmp_path}/grown
            fi
            exec {real} "$@"
            """)
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
    cache = tmp_path / "cache"
    first = extract(folder, cache=cache)
    assert [name for name, _ in first.failed] == ["growing"]
    assert first.lines_kept == 1
    figures = status(cache=cache)
    assert figures["log_objects"] == 1 and figures["lines_read"] == 1
    age(folder)
    second = extract(folder, cache=cache)
    assert second.objects_done == 1 and second.lines_kept == 2
    committed = committed_of(cache)["growing"]
    assert (committed.size, committed.lines) == (growing.stat().st_size, 2)
    db = sqlite3.connect(cache / "state.sqlite")
    assert db.execute("SELECT count(*) FROM failed_objects").fetchone() == (0,)


def tree_bytes(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under `root` (the link resolved once)."""
    resolved = root.resolve()
    return {
        path.relative_to(resolved).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in resolved.rglob("*")
        if path.is_file()
    }


def test_a_publish_killed_at_its_renames_leaves_the_old_set_or_the_new_one(
    small_corpus: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    logs_folder, _ = small_corpus
    cache = tmp_path / "cache"
    assert cli("run", str(logs_folder), "--cache", str(cache), "--level", "1").returncode == 0
    old = tree_bytes(cache / "summaries")
    kills = 0
    for attempt in range(1, 6):
        done = killed_at_event(
            "update", "summaries", "--cache", str(cache), "--level", "2",
            at=1, paths=(f"{cache}/summaries", f"{cache}/published/"), ops=("rename", "replace"),
        )  # fmt: skip
        assert done.returncode == -signal.SIGKILL, (attempt, done.stderr)
        kills += 1
        assert tree_bytes(cache / "summaries") == old
    assert kills == 5
    assert cli("update", "summaries", "--cache", str(cache), "--level", "2").returncode == 0
    new = tree_bytes(cache / "summaries")
    assert new != old and any(name.count("/") == 2 for name in new)
    generations = list((cache / "published").iterdir())
    assert generations == [(cache / "summaries").resolve()]


def test_unchanged_published_files_keep_their_inode_and_mtime(tmp_path: Path) -> None:
    folder = logs(tmp_path / "logs", {"a": line(key="one/x.bin") + b"\n" + line(key="two/y.bin") + b"\n"})
    cache = tmp_path / "cache"
    assert cli("run", str(folder), "--cache", str(cache)).returncode == 0
    first = (cache / "summaries").resolve()
    before = {path.relative_to(first): path.stat() for path in first.rglob("*.tsv")}
    logs(folder, {"b": line(key="two/z.bin") + b"\n"})
    assert cli("run", str(folder), "--cache", str(cache)).returncode == 0
    second = (cache / "summaries").resolve()
    assert second != first and not first.exists()
    for relative, info in before.items():
        now = (second / relative).stat()
        same = (now.st_ino, now.st_mtime_ns) == (info.st_ino, info.st_mtime_ns)
        if relative.parts[0] == "one" or relative.name != "by_asset.tsv":
            assert same or relative.parts[0] != "one", relative
        else:
            assert not same, relative


def test_masking_is_a_pure_function_of_the_agent() -> None:
    assert masked_agent(b"a 10.0.0.1 b 10.0.0.2") == b"a <ip> b <ip>"
    assert masked_agent(b"v1.2.3.4.5") == b"v1.2.3.4.5"
    assert masked_agent(b"Data::Dumper") == b"Data::Dumper"
    assert masked_agent(b"x ::ffff:192.0.2.1 y") == b"x <ip> y"


def test_dataset_folders_are_injective_on_colliding_names() -> None:
    """Names built from the pieces escaping works with (dots, percent-escapes of them, reserved
    names, the shortening marker, long runs): no two distinct names share a folder, and no
    folder segment is navigation or longer than a file name may be."""
    pieces = ["", ".", "..", "%", "2E", "%2E", "%25", "%00", "archive", "totals.json", "a", "~", "%~", "é", "L" * 120]
    names = {"/".join(parts) for parts in itertools.product(pieces, repeat=2)}
    names |= {a + b for a, b in itertools.product(pieces, repeat=2)}
    names |= {a + b + c for a, b, c in itertools.product(pieces, repeat=3)}
    folders: dict[str, str] = {}
    for name in sorted(names):
        folder = dataset_folder(name)
        assert folders.setdefault(folder, name) == name, (name, folders[folder])
        for segment in folder.split("/"):
            assert segment not in ("", ".", "..") and len(segment.encode()) <= 255, (name, folder)
    long_name = "L" * 400
    shortened = dataset_folder(long_name)
    assert dataset_folder(shortened) != shortened  # a shortened name written out is another folder


def test_keys_that_escape_alike_land_in_their_own_folders(tmp_path: Path) -> None:
    folder = logs(
        tmp_path / "logs",
        {"a": line(key="../x.nwb", sent=10) + b"\n" + line(key="%2E%2E/enc.nwb", sent=20) + b"\n"},
    )
    cache = tmp_path / "cache"
    assert cli("run", str(folder), "--cache", str(cache)).returncode == 0
    summaries = cache / "summaries"
    assert (summaries / "%2E%2E" / "by_asset.tsv").read_text().splitlines()[1].split("\t")[:2] == ["x.nwb", "10"]
    assert (summaries / "%252E%252E" / "by_asset.tsv").read_text().splitlines()[1].split("\t")[:2] == [
        "enc.nwb",
        "20",
    ]
    assert (summaries / "%252E%252E" / "dataset_name.txt").read_text() == "%2E%2E\n"
