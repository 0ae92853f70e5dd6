# extract.awk: the S3 server access log parser of s3logextraction.
#
# Run with gawk under LC_ALL=C (bytes, never characters).  It never calls a shell, never reads
# with getline and never derives a path from log data: the only files it writes are stdout and
# the file named by the environment variable S3LE_META (an environment value, unlike a -v value,
# is taken literally, so no escape in a path is ever interpreted).
#
# Variables (set with -v):
#   mode     "extract" (default): one shard row per kept line on stdout; in the S3LE_META file,
#            per input file its number in the argument list and its line count (F n lines), each
#            reject (R n line reason), and at the end the lines skipped by reason (S reason count).
#            No row in that file holds log text, and files are named by number only.
#            A line with at least 18 whitespace fields whose eighth is an operation (it has a dot)
#            that is not kept is counted as skipped (operation) before any validation: it can never
#            be kept, and validating it costs more than everything else done per line.  So in this
#            mode a malformed line of another operation counts as skipped, not rejected; a short or
#            empty line, and any line of a kept operation, are always validated.
#            "parse": one row per line (kept and rejected; with all=1 every line) in the layout
#            of `s3logextraction parse`, on stdout.
#            "validate": lines are read as in extract mode (the same early skip of other
#            operations); one finding per row on stdout (file number, line, check, detail; never
#            log text that could hold an IP): rejects (rejected/<reason>), and for lines of a kept
#            operation: times outside the file's delivery window (set per file with the
#            assignments window_from= and window_to= before it, ISO 8601 UTC), 200 responses with
#            fewer bytes sent than the object's size (partial_200), and lines that splitting on
#            the first `HTTP/1.` (the heuristic of dandi/s3-log-extraction) reads with another
#            status or byte count (old_heuristic).  Line counts go to the S3LE_META file as in
#            extract mode.
#   ops      comma-separated operations to keep (default REST.GET.OBJECT)
#   all      1 keeps every operation and status
#   keys     "dandi": keep only object keys under blobs/ and zarr/ (others are skipped with reason
#            not_an_asset), and reduce a Zarr key to its store, zarr/<zarr-id>, so that every chunk
#            request of one store counts for one asset; any other value keeps every key as logged
# In parse mode a command-line assignment label=NAME before each file sets the name reported
# for it; without it the file path is reported.
#
# Text cells (key, user agent) are escaped (function esc) so that no byte of a log can add a row
# or a column: backslash, tab, newline and carriage return become \\ \t \n \r and every other
# control byte \xHH.  Bytes of 0x80 and above are left as logged.
#
# The record contract (see the corpus README): owner bucket [time tz] ip requester request_id
# operation key, then a request-URI that is "-" or quoted, then status, error code, bytes sent,
# object size, total time, turn-around time.  The quoted request-URI ends at the first `"`
# followed by ` STATUS ERROR BYTES SIZE TOTAL TURNAROUND`; anything later is optional.

BEGIN {
    OFS = "\t"
    if (mode == "") mode = "extract"
    parse_mode = (mode == "parse")
    validate_mode = (mode == "validate")
    if (ops == "") ops = "REST.GET.OBJECT"
    n_ops = split(ops, op_list, ",")
    for (i = 1; i <= n_ops; i++) KEEP[op_list[i]] = 1
    for (i = 200; i <= 299; i++) KEPT_STATUS[i ""] = 1  # a status is three digits or "-"
    KEPT_STATUS["304"] = 1
    meta = ENVIRON["S3LE_META"]
    if (!parse_mode && meta == "") meta = "/dev/stderr"
    for (i = 0; i < 256; i++) ORD[sprintf("%c", i)] = i
    split("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", names, " ")
    for (i = 1; i <= 12; i++) MONTH[names[i]] = i
    split("31 28 31 30 31 30 31 31 30 31 30 31", DAYS, " ")
    T = "[^ \t\"]+"
    N = "([0-9]+|-)"
    # A dotted quad as Python's ipaddress reads it: each number 0-255, no leading zero (an address
    # is one requester however it is written only if every written form is one address).
    OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
    IPV4 = OCTET "\\." OCTET "\\." OCTET "\\." OCTET
    IPV4_ONLY = "^" IPV4 "$"
    HEX_GROUP = "^[0-9A-Fa-f][0-9A-Fa-f]?[0-9A-Fa-f]?[0-9A-Fa-f]?$"
    FAST_LINE = "^" T " " T " \\[[0-3][0-9]/[A-Z][a-z][a-z]/[0-9][0-9][0-9][0-9]:([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] " \
        "[+-][0-9][0-9][0-5][0-9]\\] (" IPV4 "|[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*|-) " \
        T " " T " " T " " T " \"" T " " T " " T "\" ([0-9][0-9][0-9]|-) " T " " N " " N " " N " " N " " \
        "\"[^ \t\"]*\" \"[^\"\t]*\"( [^\" ]+ [^\" ]+ | [^\" ]+ [^\" ]+$| [^\" ]+$|$)"
    AGENT_END = "^( [^\" ]+( [^\" ]+)+( |$)|( [^\" ]+)*$)"
    URI_END = "^\" ([0-9][0-9][0-9]|-) [^ ]+ ([0-9]+|-) ([0-9]+|-) ([0-9]+|-) ([0-9]+|-)( |$)"
    # Nine tokens before the URI, spelled out: gawk compiles an interval {9} into a slow matcher.
    PREFIX = "^[ \t]*"
    for (i = 1; i <= 9; i++) PREFIX = PREFIX "[^ \t]+[ \t]+"
    TIME = "^\\[[0-3][0-9]/[A-Z][a-z][a-z]/[0-9][0-9][0-9][0-9]:([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"
    label = ""
}

BEGINFILE {
    name = (label != "") ? label : FILENAME; label = ""; file_number++
    earliest = window_from; latest = window_to; window_from = ""; window_to = ""
}

# The fast path: one DFA match (no positions, so gawk never backtracks) proves that the line is
# a well-formed record with single spaces, a three-token request-URI without quotes, a one-token
# referer and an agent without quotes; its tail obeys the agent rule below (written so that the
# match is decided at the space after the second token past the agent, not at the line's end:
# what follows is never read).  Then the whitespace fields are exactly the tokens, the status
# block is fields 13-18, and the first `" "` of the line is the referer's closing quote and the
# agent's opening one (before them, the request-URI's quotes and the referer's opening quote
# each have a token, a status or a number on their other side).  The agent ends at its next quote.
#
# Extract mode first passes over lines of another operation (see the header).  FAST_LINE never
# matches where a trailing CR would change the result (a CR can only sit in the ignored tail), so
# only slow() strips it.
{
    if (!parse_mode && !all && $18 != "" && index($8, ".") && !($8 in KEEP)) SKIPPED["operation"]++
    else if ($0 ~ FAST_LINE) {
        # Written out here rather than in a function: a call costs more than this body.
        agent = substr($0, index($0, "\" \"") + 3)
        record($3, $4, $5, $8, $9, $13, $15, $16, substr(agent, 1, index(agent, "\"") - 1), !index($5, ":"))
    } else slow()
}

ENDFILE {
    if (!parse_mode) print "F", file_number, FNR > meta
}

END {
    if (!parse_mode) for (reason in SKIPPED) print "S", reason, SKIPPED[reason] > meta
}

# The general structural parse; every line the fast path does not prove ends here.
function slow(    line, at, i, p, rest, pos, q, blk, s, tail) {
    if (substr($0, length($0)) == "\r") $0 = substr($0, 1, length($0) - 1)
    line = $0
    if (line ~ /^[ \t]*$/) return reject("empty_line")
    at = 0
    for (i = 1; i <= 9; i++) at += length($i) + 1
    if (substr(line, 1, at) != ($1 " " $2 " " $3 " " $4 " " $5 " " $6 " " $7 " " $8 " " $9 " ")) {
        if (!match(line, PREFIX)) return reject("too_few_fields")
        at = RLENGTH
    }
    rest = substr(line, at + 1)
    split(substr(line, 1, at), p, " ")
    if (p[9] == "") return reject("too_few_fields")
    if (substr(rest, 1, 1) == "\"") {
        # The URI ends at the first quote followed by a status block.
        pos = 1
        while ((q = index(substr(rest, pos + 1), "\"")) > 0) {
            pos += q
            if (substr(rest, pos) ~ URI_END) break
        }
        if (!q) return reject("no_status_block")
        blk = substr(rest, pos + 1)
    } else if (substr(rest, 1, 2) == "- ") {
        blk = substr(rest, 2)
        if (("\"" blk) !~ URI_END) return reject("no_status_block")
    } else {
        return reject("unquoted_request_uri")
    }
    split(substr(blk, 1, 256), s, " ")
    tail = substr(blk, 7 + length(s[1]) + length(s[2]) + length(s[3]) + length(s[4]) + length(s[5]) + length(s[6]))
    return record(p[3], p[4], p[5], p[8], p[9], s[1], s[3], s[4], user_agent(substr(tail, 2)), 0)
}

# The user agent from the text after the status block ("referer" "agent" ...).  Quotes inside
# either are data: the referer ends at the first `" "`; the agent ends at the first `"` followed
# by two unquoted tokens (version id, host id) or by unquoted tokens up to the end of the line;
# a line cut inside the agent keeps what is there.
function user_agent(tail,    at, u, pos, q) {
    if (substr(tail, 1, 1) != "\"") return "-"
    at = index(substr(tail, 2), "\" \"")
    if (!at) return "-"
    u = substr(tail, at + 4)
    pos = 0
    while ((q = index(substr(u, pos + 1), "\"")) > 0) {
        pos += q
        if (substr(u, pos + 1) ~ AGENT_END) return substr(u, 1, pos - 1)
    }
    return u
}

# Validates time, remote IP (FAST_LINE has already checked the IP's form) and the size of the
# numbers (a shard stores them as int64), then emits the line.
function record(time, zone, ip, op, key, status, bytes, size, ua, ip_checked,    ts, keep, note, slash) {
    if ((ts = UTC[time]) == "" || zone != "+0000]") ts = utc(time, zone)
    if (ts == "") return reject("invalid_time")
    if (!ip_checked && !valid_ip(ip)) return reject("invalid_remote_ip")
    if (bytes == "-") bytes = 0
    else if (length(bytes) > 18 && too_big(bytes)) return reject("number_out_of_range")
    if (size == "-") size = ""
    else if (length(size) > 18 && too_big(size)) return reject("number_out_of_range")
    if (validate_mode) return check(ts, op, status, bytes, size, ip_checked)
    keep = (op in KEEP) && (status in KEPT_STATUS)
    if (parse_mode) {
        if (!keep && !all) return 1
        note = keep ? "kept" : ((op in KEEP) ? "skipped: status" : "skipped: operation")
        print esc(name), FNR, "ok", esc(key), ts, ip, status, bytes, op, note
        return 1
    }
    if (!keep && !all) {
        SKIPPED[(op in KEEP) ? "status" : "operation"]++
        return 1
    }
    if (keys == "dandi" && !dandi_asset(key)) {
        SKIPPED["not_an_asset"]++
        return 1
    }
    if (keys == "dandi" && (slash = index(substr(key, 6), "/")) && substr(key, 1, 5) == "zarr/") key = substr(key, 1, 4 + slash)
    if (key ~ /[\000-\037\177\\]/) key = esc(key)
    if (ua ~ /[\000-\037\177\\]/) ua = esc(ua)
    print ts, key, op, status, bytes, size, ip, ua
    return 1
}

# "-" (an AWS service), a dotted quad or an IPv6 address (RFC 4291 text forms, an IPv4 tail
# included): `999.1.1.1` and `192.0.2.7:443` are not addresses.  IPv6 answers are memoised (the
# table is bounded as the times' are).
function valid_ip(ip,    at, head, tail, ok) {
    if (ip == "-" || ip ~ IPV4_ONLY) return 1
    if (!index(ip, ":")) return 0
    if (ip in V6) return V6[ip]
    if (++v6_cached > 100000) { delete V6; v6_cached = 0 }
    if (length(ip) > 45) ok = 0
    else if (!(at = index(ip, "::"))) ok = (hex_groups(ip, 1) == 8)
    else if (index(substr(ip, at + 1), "::")) ok = 0
    else {
        head = hex_groups(substr(ip, 1, at - 1), 0)
        tail = hex_groups(substr(ip, at + 2), 1)
        ok = (head >= 0 && tail >= 0 && head + tail <= 7)
    }
    return V6[ip] = ok
}

# How many 16-bit groups `text` (groups of 1-4 hex digits between colons) stands for, a dotted
# quad at its end (where `quad_ok`) counting two; -1 when it is not such a text.
function hex_groups(text, quad_ok,    n, i, parts) {
    if (text == "") return 0
    n = split(text, parts, ":")
    for (i = 1; i <= n; i++) {
        if (i == n && quad_ok && index(parts[i], ".")) return (parts[i] ~ IPV4_ONLY) ? n + 1 : -1
        if (parts[i] !~ HEX_GROUP) return -1
    }
    return n
}

# A blob (blobs/ and a name) or a Zarr store or chunk (zarr/ and a non-empty store id).
function dandi_asset(key) {
    if (substr(key, 1, 6) == "blobs/") return length(key) > 6
    return substr(key, 1, 5) == "zarr/" && length(key) > 5 && substr(key, 6, 1) != "/"
}

# More than 18 significant digits: beyond what int64 (and exact double sums) can hold.
function too_big(digits) {
    sub(/^0+/, "", digits)
    return length(digits) > 18
}

# "[dd/Mon/yyyy:HH:MM:SS" "+hhmm]" -> "yyyy-mm-ddTHH:MM:SSZ", or "" when not a valid time.
# Times in +0000 are memoised in UTC, which record reads first (one lookup costs less than a call;
# a time it misses gets an empty entry, counted here so that the table stays bounded).
function utc(t, z) {
    if (++cached > 200000) { delete UTC; cached = 0 }
    if (z != "+0000]") return utc_convert(t, z)
    return UTC[t] = utc_convert(t, z)
}

function utc_convert(t, z,    d, day, mon, year, e, sign) {
    if (length(t) != 21 || t !~ TIME) return ""
    d = substr(t, 2, 11)
    if (!(d in DATE)) {
        day = substr(d, 1, 2) + 0
        mon = MONTH[substr(d, 4, 3)]
        year = substr(d, 8, 4) + 0
        if (mon && day >= 1 && day <= DAYS[mon] + (mon == 2 && leap(year)))
            DATE[d] = sprintf("%04d-%02d-%02d", year, mon, day)
        else
            DATE[d] = ""
    }
    if (DATE[d] == "") return ""
    if (z == "+0000]") return DATE[d] "T" substr(t, 14, 8) "Z"
    if (z !~ /^[+-][0-9][0-9][0-5][0-9]\]$/) return ""
    e = mktime(substr(DATE[d], 1, 4) " " substr(DATE[d], 6, 2) " " substr(DATE[d], 9, 2) " " \
               substr(t, 14, 2) " " substr(t, 17, 2) " " substr(t, 20, 2), 1)
    sign = (substr(z, 1, 1) == "-") ? -1 : 1
    e -= sign * (substr(z, 2, 2) * 3600 + substr(z, 4, 2) * 60)
    return strftime("%Y-%m-%dT%H:%M:%SZ", e, 1)
}

function leap(y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

function reject(reason) {
    if (parse_mode) print esc(name), FNR, "reject", "", "", "", "", "", "", reason
    else if (validate_mode) print file_number, FNR, "rejected/" reason, ""
    else print "R", file_number, FNR, reason > meta
    return 1
}

# Validate mode: the findings of a well-formed line.  The old heuristic's tokens are shown only
# when they look like a status or a byte count (what follows a misplaced split is log text).  On
# a fast-path line (fields 10-12 are the request-URI, 13 the status) the old reading agrees when
# the first `HTTP/1.` starts field 12: no need to split the line.
function check(ts, op, status, bytes, size, fast,    at, post, old_bytes) {
    if (!(op in KEEP)) return 1
    if (earliest != "" && (ts < earliest || latest < ts)) print file_number, FNR, "time_outside_delivery_window", ts
    if (status == "200" && size != "" && bytes + 0 < size + 0)
        print file_number, FNR, "partial_200", "bytes_sent " bytes " < object_size " size
    if (fast && substr($12, 1, 7) == "HTTP/1." && !index($9, "HTTP/1.") && !index($10, "HTTP/1.") && \
        !index($11, "HTTP/1.")) return 1
    at = index($0, "HTTP/1.")
    if (!at) {
        print file_number, FNR, "old_heuristic", "no HTTP/1. in the line"
        return 1
    }
    split(substr($0, at + 7, 512), post, " ")
    old_bytes = (post[4] == "-") ? 0 : post[4]
    if (post[2] != status || (old_bytes "") != (bytes ""))
        print file_number, FNR, "old_heuristic", "status " shown(post[2], "^([0-9][0-9][0-9]|-)$") " bytes_sent " \
            shown(post[4], "^([0-9]+|-)$") " where the line has status " status " bytes_sent " bytes
    return 1
}

function shown(token, form) { return (token ~ form && length(token) <= 20) ? token : "(log text)" }

# TSV cell escaping: backslash, tab, newline and carriage return by name, every other control
# byte as \xHH (lossless: s3logextraction.text.unescape reverses it).
function esc(v,    out, i, n, c, o) {
    if (v !~ /[\000-\037\177\\]/) return v
    n = length(v)
    out = ""
    for (i = 1; i <= n; i++) {
        c = substr(v, i, 1)
        o = ORD[c]
        if (c == "\\") out = out "\\\\"
        else if (o >= 32 && o != 127) out = out c
        else if (c == "\t") out = out "\\t"
        else if (c == "\n") out = out "\\n"
        else if (c == "\r") out = out "\\r"
        else out = out sprintf("\\x%02x", o)
    }
    return out
}
