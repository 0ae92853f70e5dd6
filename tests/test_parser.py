"""The parser against the shared corpus (every row) and against constructed lines for each rule."""

from __future__ import annotations

import csv
import gzip
import io
import re
import subprocess
from pathlib import Path

import pytest

from s3logextraction.gawk import gawk_command, gawk_environment, parser_path
from s3logextraction.parse import PARSE_HEADER, parse

COMPARED = ("file", "line", "verdict", "key", "timestamp_utc", "remote_ip", "http_status", "bytes_sent", "operation")
GOOD = (
    "0123456789abcdef example-bucket [06/Feb/2019:00:00:38 +0000] 192.0.2.10 - 3E57427F3EXAMPLE REST.GET.OBJECT "
    'data/file.bin "GET /example-bucket/data/file.bin HTTP/1.1" 200 - 1024 2048 20 10 "-" "curl/8.5.0" - '
    "HOSTID SigV4 TLS_AES_128_GCM_SHA256 AuthHeader example-bucket.s3.us-east-1.amazonaws.com TLSv1.3 - -"
)


csv.field_size_limit(1 << 30)


def read_tsv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))


def parse_text(files: list[Path], *, keep_all: bool = True) -> list[dict[str, str]]:
    out = io.StringIO()
    parse(files, keep_all=keep_all, output=out)
    return read_tsv(out.getvalue())


def parse_lines(tmp_path: Path, *lines: bytes) -> list[dict[str, str]]:
    path = tmp_path / "lines.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return parse_text([path])


def expected_rows(corpus: Path) -> list[dict[str, str]]:
    return read_tsv((corpus / "EXPECTED.tsv").read_text(encoding="utf-8"))


def test_corpus_every_row_matches_expected(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(corpus)
    files = sorted({row["file"] for row in expected_rows(corpus)})
    produced = parse_text([Path(name) for name in files])
    expected = expected_rows(corpus)
    assert len(produced) == len(expected)
    by_place = {(row["file"], row["line"]): row for row in produced}
    for row in expected:
        got = by_place[(row["file"], row["line"])]
        assert {column: got[column] for column in COMPARED} == {column: row[column] for column in COMPARED}, row[
            "note_or_reject_reason"
        ]


def test_corpus_without_all_lists_only_kept_lines_and_rejects(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(corpus)
    expected = expected_rows(corpus)
    produced = parse_text(sorted({Path(row["file"]) for row in expected}), keep_all=False)
    wanted = {
        (row["file"], row["line"])
        for row in expected
        if row["verdict"] == "reject"
        or (
            row["operation"] == "REST.GET.OBJECT"
            and (row["http_status"].startswith("2") or row["http_status"] == "304")
        )
    }
    assert {(row["file"], row["line"]) for row in produced} == wanted


def test_parse_header_is_the_documented_one(corpus: Path) -> None:
    out = io.StringIO()
    parse([corpus / "crlf.log"], output=out)
    assert out.getvalue().splitlines()[0].split("\t") == list(PARSE_HEADER)


def test_gzip_file_reads_like_plain(corpus: Path, tmp_path: Path) -> None:
    packed = tmp_path / "time.log"
    packed.write_bytes(gzip.compress((corpus / "time.log").read_bytes()))
    plain = parse_text([corpus / "time.log"])
    zipped = parse_text([packed])
    assert [{**row, "file": ""} for row in plain] == [{**row, "file": ""} for row in zipped]


def test_extract_mode_shard_columns(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(GOOD + "\n")
    meta = tmp_path / "meta"
    command = gawk_command(files=[("2019-02-06-00-00-00-ABC", log)], meta=meta)
    shard = subprocess.run(command, env=gawk_environment(), capture_output=True, check=True).stdout.decode()
    assert shard == "2019-02-06T00:00:38Z\tdata/file.bin\tREST.GET.OBJECT\t200\t1024\t2048\t192.0.2.10\tcurl/8.5.0\n"
    assert meta.read_text().splitlines() == ["F\t2019-02-06-00-00-00-ABC\t1", "K\t200\t1\t1024"]


@pytest.mark.parametrize(
    ("change", "verdict", "status", "reason"),
    [
        (lambda line: line.replace("+0000]", "-0500]").replace("06/Feb/2019:00", "31/Dec/2019:22"), "ok", "200", ""),
        (lambda line: line.replace("06/Feb/2019", "29/Feb/2019"), "reject", "", "invalid_time"),
        (lambda line: line.replace("06/Feb/2019:00", "06/Feb/2019:24"), "reject", "", "invalid_time"),
        (lambda line: line.replace("+0000]", "+0000 ]"), "reject", "", "unquoted_request_uri"),
        (lambda line: line.replace("192.0.2.10", "not-an-ip"), "reject", "", "invalid_remote_ip"),
        (lambda line: line.replace("192.0.2.10", "::1"), "ok", "200", ""),
        (lambda line: line.replace("200 - 1024", "200  - 1024"), "reject", "", "no_status_block"),
        (lambda line: line.replace('"curl/8.5.0" - HOSTID', '"curl\t8.5.0" - HOSTID'), "ok", "200", ""),
        (lambda line: line[: line.index("curl") + 3], "ok", "200", ""),
        (lambda line: "   " + line, "ok", "200", ""),
        (lambda line: line + " ", "ok", "200", ""),
        (lambda line: line.replace("HTTP/1.1", 'HTTP/1.1" 999 - 1 1 1 1 "x'), "ok", "999", ""),
        (lambda line: line.replace('1.1" 200', '1.1"\t200'), "reject", "", "no_status_block"),
        (lambda line: line.replace(" 2048 ", " abc "), "reject", "", "no_status_block"),
        (lambda line: line.replace(" - 3E57427F3EXAMPLE ", " "), "reject", "", "unquoted_request_uri"),
    ],
)
def test_rules_on_constructed_lines(tmp_path: Path, change, verdict: str, status: str, reason: str) -> None:
    rows = parse_lines(tmp_path, change(GOOD).encode())
    assert len(rows) == 1
    assert (rows[0]["verdict"], rows[0]["http_status"]) == (verdict, status)
    if verdict == "reject":
        assert rows[0]["note_or_reject_reason"] == reason


def test_offset_is_converted_across_a_year(tmp_path: Path) -> None:
    line = GOOD.replace("06/Feb/2019:00:00:38 +0000", "31/Dec/2019:22:30:00 -0500")
    assert parse_lines(tmp_path, line.encode())[0]["timestamp_utc"] == "2020-01-01T03:30:00Z"


def test_nul_bytes_invalid_utf8_and_huge_lines_do_not_break_the_file(tmp_path: Path) -> None:
    huge_key = "k" * 300_000
    lines = [
        GOOD.replace("curl/8.5.0", "cu\x00rl").encode(),
        GOOD.replace("curl/8.5.0", "caf\xe9").encode("latin-1"),
        GOOD.replace("data/file.bin", huge_key).encode(),
        b"\x00\x00\x00",
        GOOD.encode(),
    ]
    rows = parse_lines(tmp_path, *lines)
    assert [row["verdict"] for row in rows] == ["ok", "ok", "ok", "reject", "ok"]
    assert len(rows[2]["key"]) == 300_000


def test_user_agent_rules_in_the_shard(tmp_path: Path) -> None:
    agents = {
        '"-" "a b" c d': "a b",
        '"-" "a" b" c d': 'a" b',
        '"-" "x"" - HOST': 'x"',
        '"-" "cut inside': "cut inside",
        '"ref" "x" "y" "agent one" - HOST S': 'x" "y" "agent one',
    }
    base = GOOD[: GOOD.index('"-" "curl')]
    log = tmp_path / "ua.log"
    log.write_text("\n".join(base + tail for tail in agents) + "\n")
    command = gawk_command(files=[("ua", log)], meta=tmp_path / "meta")
    shard = subprocess.run(command, env=gawk_environment(), capture_output=True, check=True).stdout.decode()
    assert [row.split("\t")[7] for row in shard.splitlines()] == list(agents.values())


def test_parser_never_calls_a_shell_or_reads_other_files() -> None:
    source = parser_path().read_text()
    without_strings = re.sub(r'"(\\.|[^"\\])*"', '""', source)
    code = "\n".join(line.split("#", 1)[0] for line in without_strings.splitlines())
    assert "system(" not in code
    assert "getline" not in code
    assert "|" not in code.replace("||", ""), "a pipe to or from a command"
    assert set(re.findall(r">\s*([A-Za-z_]\w*|\"\")", code)) <= {"meta"}, "output only to stdout and meta"
