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

from .conftest import CORPUS, ROOT

COMPARED = ("file", "line", "verdict", "key", "timestamp_utc", "remote_ip", "http_status", "bytes_sent", "operation")
GOOD = (
    "0123456789abcdef example-bucket [06/Feb/2019:00:00:38 +0000] 192.0.2.10 - 3E57427F3EXAMPLE REST.GET.OBJECT "
    'data/file.bin "GET /example-bucket/data/file.bin HTTP/1.1" 200 - 1024 2048 20 10 "-" "curl/8.5.0" - '
    "HOSTID SigV4 TLS_AES_128_GCM_SHA256 AuthHeader example-bucket.s3.us-east-1.amazonaws.com TLSv1.3 - -"
)


csv.field_size_limit(1 << 30)


def read_tsv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE))


def parse_text(files: list[Path], *, keep_all: bool = True) -> list[dict[str, str]]:
    """The parse table, its bytes read as latin-1 (so invalid UTF-8 compares byte for byte)."""
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    parse(files, keep_all=keep_all, output=out)
    return read_tsv(raw.getvalue().decode("latin-1"))


def parse_lines(tmp_path: Path, *lines: bytes) -> list[dict[str, str]]:
    path = tmp_path / "lines.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return parse_text([path])


def expected_rows(corpus: Path) -> list[dict[str, str]]:
    return read_tsv((corpus / "EXPECTED.tsv").read_bytes().decode("latin-1"))


SHARED_CORPUS = ROOT.parent / "shared" / "corpus"  # optional: the skip below covers a plain clone


@pytest.fixture(
    params=[
        pytest.param(CORPUS, id="project"),
        pytest.param(
            SHARED_CORPUS,
            id="shared",
            marks=pytest.mark.skipif(
                not (SHARED_CORPUS / "EXPECTED.tsv").exists(),
                reason=f"no shared acceptance corpus at {SHARED_CORPUS} (a plain clone has none)",
            ),
        ),
    ]
)
def any_corpus(request: pytest.FixtureRequest) -> Path:
    """The project's corpus, and the shared acceptance corpus when it is beside the repository."""
    return Path(request.param)


def test_corpus_every_row_matches_expected(any_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = any_corpus
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


def test_corpus_without_all_lists_only_kept_lines_and_rejects(
    any_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = any_corpus
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


def extract_mode(
    tmp_path: Path, *lines: bytes, operations: tuple[str, ...] = ("REST.GET.OBJECT",)
) -> tuple[bytes, str]:
    """(rows, meta) of the parser in extract mode; the meta path holds a tab and a backslash, which
    gawk must take literally (an environment value, not a -v assignment)."""
    log = tmp_path / "a.log"
    log.write_bytes(b"\n".join(lines) + b"\n")
    meta = tmp_path / "odd\\n\tname" / "meta"
    meta.parent.mkdir()
    command = gawk_command(files=[log, log], operations=operations)
    rows = subprocess.run(command, env=gawk_environment(meta=str(meta)), capture_output=True, check=True).stdout
    return rows, meta.read_text()


def test_extract_mode_shard_columns_and_meta(tmp_path: Path) -> None:
    other = GOOD.replace("REST.GET.OBJECT", "REST.HEAD.OBJECT").encode()
    failed = GOOD.replace(" 200 - ", " 404 NoSuchKey ").encode()
    rows, meta = extract_mode(tmp_path, GOOD.encode(), other, failed, b"garbage")
    row = b"2019-02-06T00:00:38Z\tdata/file.bin\tREST.GET.OBJECT\t200\t1024\t2048\t192.0.2.10\tcurl/8.5.0\n"
    assert rows == row * 2
    assert sorted(meta.splitlines()) == sorted(
        ["F\t1\t4", "R\t1\t4\ttoo_few_fields", "F\t2\t4", "R\t2\t4\ttoo_few_fields", "S\toperation\t2", "S\tstatus\t2"]
    )


def test_extract_mode_skips_another_operation_before_validating_it(tmp_path: Path) -> None:
    """The documented exception: in extract mode a line whose eighth field is another operation
    (and that has the fields of a whole record) is skipped without validation; `parse` still
    rejects it.  A kept operation with the same fault is rejected in both; a short line is never
    taken for another operation."""
    broken_head = GOOD.replace("REST.GET.OBJECT", "REST.HEAD.OBJECT").replace("06/Feb/2019", "31/Feb/2019")
    broken_get = GOOD.replace("06/Feb/2019", "31/Feb/2019")
    short_head = " ".join(GOOD.replace("REST.GET.OBJECT", "REST.HEAD.OBJECT").split(" ")[:9])
    _, meta = extract_mode(tmp_path, broken_head.encode(), broken_get.encode(), short_head.encode())
    assert sorted(line for line in meta.splitlines() if line.startswith(("R\t1", "S"))) == [
        "R\t1\t2\tinvalid_time",
        "R\t1\t3\ttoo_few_fields",
        "S\toperation\t2",
    ]
    parsed = parse_lines(tmp_path, broken_head.encode())
    assert [(row["verdict"], row["note_or_reject_reason"]) for row in parsed] == [("reject", "invalid_time")]


def test_text_cells_escape_every_control_byte(tmp_path: Path) -> None:
    lines = [
        GOOD.replace("data/file.bin", "a\rb\x01c\\d\x7f").encode(),
        GOOD.replace("curl/8.5.0", "x\ry\x00z\\").encode(),
        GOOD.replace("data/file.bin", "caf\xe9").encode("latin-1"),
    ]
    rows, _ = extract_mode(tmp_path, *lines)
    cells = [row.split(b"\t") for row in rows.splitlines()[:3]]
    assert [len(cell) for cell in cells] == [8, 8, 8]
    assert cells[0][1] == b"a\\rb\\x01c\\\\d\\x7f"
    assert cells[1][7] == b"x\\ry\\x00z\\\\"
    assert cells[2][1] == b"caf\xe9"


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
    command = gawk_command(files=[log])
    shard = subprocess.run(
        command, env=gawk_environment(meta=str(tmp_path / "meta")), capture_output=True, check=True
    ).stdout.decode()
    assert [row.split("\t")[7] for row in shard.splitlines()] == list(agents.values())


def test_parser_never_calls_a_shell_or_reads_other_files() -> None:
    source = parser_path().read_text()
    without_strings = re.sub(r'"(\\.|[^"\\])*"', '""', source)
    code = "\n".join(line.split("#", 1)[0] for line in without_strings.splitlines())
    assert "system(" not in code
    assert "getline" not in code
    assert "|" not in code.replace("||", ""), "a pipe to or from a command"
    assert set(re.findall(r">\s*([A-Za-z_]\w*|\"\")", code)) <= {"meta"}, "output only to stdout and meta"
    assert 'ENVIRON["S3LE_META"]' in source, "the meta path is read from the environment, never from -v"
