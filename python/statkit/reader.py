#!/usr/bin/env python3
"""Read statkit and mmstats shared-memory stats files (standard library only).

    python3 python/statkit/reader.py [PATH...]

Prints the JSON that `statkit slurp --json` prints: one array with an object
per readable file, {"path", "format", "pid", "stats": {label: value}}, and
"descriptions": {name: {"unit", "help"}} when the file describes any. PATHs
are files or folders (every *.statkit, *.mmstats and mmstats-* file in
them); without one, the stats folder ($STATKIT_DIR, else /dev/shm/statkit)
and the mmstats files in $MMSTATS_PATH (else the temporary folder).
A file that cannot be read is named on stderr with the reason and skipped,
and the exit status is then 1.

The format is specified in docs/format.md; this module follows it section
by section and is the reference that a second implementation is possible.
"""

import errno
import json
import math
import os
import stat
import struct
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable

MAGIC = b"STATKIT\0"
BYTE_ORDER_MARK = 0x01020304
VERSION = 2
MIN_HEADER_SIZE = 128
HEADER_SIZE = {1: 128, 2: 136}
# A header this large has the descriptions section's fields.
DESCRIBED_HEADER_SIZE = 152
DESCRIPTIONS_MAX, HELP_MAX, UNIT_MAX = 1 << 20, 1024, 64
MAX_SEGMENTS = 64
MIN_ENTRY_SIZE = 128
NAME_MAX = 112
TEXT_MAX = 64
FLAG_RETIRED = 1
TORN_RETRIES = 5
# Longest file read (the Rust reader's Limits copy only the used parts;
# this reader reads files whole, so one bound serves both kinds).
MAX_FILE_BYTES = 64 << 20

COUNTER, GAUGE, HISTOGRAM, TEXT, AVERAGE, MOVING_AVERAGE = 1, 2, 3, 4, 5, 6
BUCKETS = 514
HISTOGRAM_WORDS = 6 + BUCKETS
WORDS = {COUNTER: 1, GAUGE: 1, MOVING_AVERAGE: 1, AVERAGE: 4, TEXT: 11, HISTOGRAM: HISTOGRAM_WORDS}
PER_THREAD = (COUNTER, HISTOGRAM, AVERAGE)
# Bucket keys: an f64's bits shifted right by 49 (exponent and top 3
# mantissa bits); the first bucketed key is that of 2**-24.
SHIFT = 49
FIRST_KEY = (1023 - 24) << 3
PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999))
MASK64 = (1 << 64) - 1

# A histogram's summary: count, sum, min, max, mean and percentiles (None
# when empty or not finite).
Summary = dict[str, int | float | None]
# One decoded value, as `statkit slurp --json` prints it.
Stat = int | float | bool | str | Summary | None
Stats = dict[str, Stat]
# (format, pid, stats): "statkit" or "mmstats"; None for retired totals and
# mmstats files without a sys.pid field.
Decoded = tuple[str, int | None, Stats]
# Help text and unit by metric name: {name: {"unit": ..., "help": ...}}.
Descriptions = dict[str, dict[str, str]]
# Word `index` of one metric's cells in one block.
Word = Callable[[int], int]


class FormatError(Exception):
    """The reason a file was refused (the same reasons the Rust reader gives)."""


class Torn(FormatError):
    """A multi-word cell was caught mid-write: read the file again."""


def _need(data: bytes, offset: int, length: int, what: str) -> None:
    if offset + length > len(data):
        raise FormatError("truncated: %s needs %d bytes, the file has %d" % (what, offset + length, len(data)))


def _u(data: bytes, offset: int, size: int, what: str) -> int:
    _need(data, offset, size, what)
    return int.from_bytes(data[offset:offset + size], "little")


def _f64(bits: int) -> float:
    value: float = struct.unpack("<d", struct.pack("<Q", bits))[0]
    return value


def _size_lying(field: str, value: int, limit: int) -> None:
    if value > limit:
        raise FormatError("size lying: %s is %d, more than the %d it may be" % (field, value, limit))


# --- statkit files ------------------------------------------------------------


def decode_statkit(data: bytes) -> Decoded:
    """Decodes one statkit file (a main file or a continuation) with the
    checks of docs/format.md, in its order; raises FormatError."""
    return _decode_statkit(data)[0]


def _decode_statkit(data: bytes) -> tuple[Decoded, Descriptions]:
    what = "header"
    _need(data, 0, MIN_HEADER_SIZE, what)
    bom = _u(data, 8, 4, what)
    if bom == 0x04030201:
        raise FormatError("wrong endianness: the file was written big-endian")
    if bom != BYTE_ORDER_MARK:
        raise FormatError("corrupt: byte-order mark %#010x" % bom)
    version = _u(data, 12, 2, what)
    if version not in HEADER_SIZE:
        raise FormatError("unsupported format version %d (this reader reads versions 1 to %d)" % (version, VERSION))
    header_size, entry_size = _u(data, 14, 2, what), _u(data, 16, 2, what)
    if header_size < HEADER_SIZE[version] or entry_size < MIN_ENTRY_SIZE:
        raise FormatError("corrupt: header size %d or entry size %d too small" % (header_size, entry_size))
    for field, value in _chain(data).items():
        if field.startswith("segment"):
            _size_lying(field, value, MAX_SEGMENTS - 1)
    h = {
        "flags": _u(data, 18, 2, what), "capacity": _u(data, 20, 4, what), "block_size": _u(data, 24, 4, what),
        "state": _u(data, 28, 4, what), "blocks_offset": _u(data, 32, 8, what), "pid": _u(data, 40, 4, what),
        "entries": _u(data, 44, 4, what), "blocks": _u(data, 48, 4, what), "slots_used": _u(data, 52, 4, what),
    }
    if h["state"] != 1:
        raise FormatError("not ready: the writer is still creating the file")
    _size_lying("entries", h["entries"], h["capacity"])
    _size_lying("entry table end", header_size + h["capacity"] * entry_size, h["blocks_offset"])
    if any(n % 8 for n in (header_size, entry_size, h["blocks_offset"], h["block_size"])):
        raise FormatError("corrupt: sizes and offsets must be multiples of 8")
    _size_lying("slots used", h["slots_used"] * 8, h["block_size"])
    if h["blocks"] == 0:
        raise FormatError("corrupt: no block 0")
    _need(data, 0, h["blocks_offset"] + h["blocks"] * h["block_size"], "blocks")
    entries = [_entry(data, header_size + i * entry_size, i, h["slots_used"]) for i in range(h["entries"])]
    # Cells that overlap would make a per-thread metric cost one read per
    # block each: refused, so decoding stays linear in the file.
    _size_lying("entry cells in total", sum(WORDS[kind] for _, kind, _ in entries), h["slots_used"])
    table_end = header_size + h["capacity"] * entry_size
    described = version >= 2 and header_size >= DESCRIBED_HEADER_SIZE
    descriptions = _descriptions(data, h["blocks_offset"], table_end) if described else {}
    stats: Stats = {}
    for label, kind, slot in entries:
        stats[label] = _value(data, h, kind, slot, label)
    retired = bool(h["flags"] & FLAG_RETIRED)
    return ("statkit", (None if retired else h["pid"]), stats), descriptions


def _control(c: str) -> bool:
    """A control character (Unicode category Cc), as Rust's char::is_control."""
    return unicodedata.category(c) == "Cc"


def _descriptions(data: bytes, blocks_offset: int, table_end: int) -> Descriptions:
    """The descriptions section (docs/format.md#descriptions): checked to
    lie between the entry table and the blocks, records decoded with a
    later one for a name replacing the earlier."""
    offset, size, used = _u(data, 136, 8, "header"), _u(data, 144, 4, "header"), _u(data, 148, 4, "header")
    if size == 0 and used == 0:
        return {}
    _size_lying("descriptions size", size, DESCRIPTIONS_MAX)
    _size_lying("descriptions used", used, size)
    if offset % 8 or used % 8:
        raise FormatError("corrupt: descriptions offset %d and bytes used %d must be multiples of 8" % (offset, used))
    if offset < table_end:
        raise FormatError("corrupt: descriptions at %d overlap the entry table" % offset)
    _size_lying("descriptions end", offset + size, blocks_offset)
    out: Descriptions = {}
    at, end = offset, offset + used
    while at < end:
        name, unit, text = (_u(data, at + i, 2, "descriptions") for i in (0, 2, 4))
        _size_lying("description name length", name, NAME_MAX)
        _size_lying("description unit length", unit, UNIT_MAX)
        _size_lying("description help length", text, HELP_MAX)
        if name == 0:
            raise FormatError("corrupt: description at byte %d has no name" % (at - offset))
        record = (8 + name + unit + text + 7) // 8 * 8
        if at + record > end:
            raise FormatError("truncated: descriptions needs %d bytes, the file has %d" % (at + record - offset, used))
        try:
            parts = [data[at + 8 + a:at + 8 + b].decode("utf-8")
                     for a, b in ((0, name), (name, name + unit), (name + unit, name + unit + text))]
        except UnicodeDecodeError:
            raise FormatError("corrupt: description at byte %d is not UTF-8" % (at - offset))
        if any(c in "{}" for c in parts[0]) or any(_control(c) for c in parts[0] + parts[1]):
            raise FormatError("corrupt: description at byte %d: a name or unit no writer writes" % (at - offset))
        # A name described again keeps its first place (as in the Rust reader).
        out[parts[0]] = {"unit": parts[1], "help": parts[2]}
        at += record
    return out


def _entry(data: bytes, at: int, index: int, slots_used: int) -> tuple[str, int, int]:
    _need(data, at, MIN_ENTRY_SIZE, "entry table")
    kind = data[at]
    if kind not in WORDS:
        raise FormatError("corrupt: entry %d: unknown kind %d" % (index, kind))
    name_len = _u(data, at + 2, 2, "entry table")
    _size_lying("entry name length", name_len, NAME_MAX)
    try:
        label = data[at + 16:at + 16 + name_len].decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("corrupt: entry %d: label is not UTF-8" % index)
    slot, words = _u(data, at + 4, 4, "entry table"), _u(data, at + 8, 4, "entry table")
    if words != WORDS[kind]:
        raise FormatError("corrupt: entry %d: %d words, not %d" % (index, words, WORDS[kind]))
    _size_lying("entry cells end", slot + words, slots_used)
    return label, kind, slot


def _cells(data: bytes, h: dict[str, int], block: int, slot: int) -> Word:
    base = h["blocks_offset"] + block * h["block_size"] + slot * 8

    def word(index: int) -> int:
        return _u(data, base + index * 8, 8, "metric cells")

    return word


def _whole(word: Word, end: int, label: str) -> None:
    if word(0) != word(end):
        raise Torn("torn: %s was being written while it was read" % label)


def _value(data: bytes, h: dict[str, int], kind: int, slot: int, label: str) -> Stat:
    shared = _cells(data, h, 0, slot)
    threads = [_cells(data, h, b, slot) for b in range(1, h["blocks"])]
    if kind in (GAUGE, MOVING_AVERAGE):
        return _float(_f64(shared(0)))
    if kind == TEXT:
        _whole(shared, 10, label)
        length = shared(1)
        _size_lying("text length", length, TEXT_MAX)
        start = h["blocks_offset"] + slot * 8 + 16
        _need(data, start, length, "text cell")
        text = data[start:start + length].decode("utf-8", "replace")
        # Each bad byte became a 3-byte U+FFFD: cut on a character to what
        # a cell holds, as the Rust reader does (docs/format.md, check 9).
        return text.encode("utf-8")[:TEXT_MAX].decode("utf-8", "ignore")
    if kind == COUNTER:
        return sum(word(0) for word in threads) & MASK64
    if kind == AVERAGE:
        count, total = 0, 0.0
        for word in threads:
            _whole(word, 3, label)
            count = (count + word(1)) & MASK64
            total += _f64(word(2))
        return _float(total / count) if count else None
    return _histogram(threads, label)


def _histogram(threads: list[Word], label: str) -> Summary:
    count, total, low, high, buckets = 0, 0.0, 0.0, 0.0, [0] * BUCKETS
    for word in threads:
        _whole(word, HISTOGRAM_WORDS - 1, label)
        n = word(1)
        if n == 0:
            continue
        lo, hi = _f64(word(3)), _f64(word(4))
        low, high = (lo, hi) if count == 0 else (_fmin(low, lo), _fmax(high, hi))
        count = (count + n) & MASK64
        total += _f64(word(2))
        for i in range(BUCKETS):
            buckets[i] = (buckets[i] + word(5 + i)) & MASK64
    out: Summary = {"count": count, "sum": _float(total)}
    filled = count > 0
    out["min"] = _float(low) if filled else None
    out["max"] = _float(high) if filled else None
    out["mean"] = _float(total / count) if filled else None
    for name, q in PERCENTILES:
        out[name] = _float(_quantile(count, low, high, buckets, q)) if filled else None
    return out


def _fmin(a: float, b: float) -> float:
    """Rust's f64::min: the other value when one is NaN."""
    return _ignoring_nan(min, a, b)


def _fmax(a: float, b: float) -> float:
    return _ignoring_nan(max, a, b)


def _ignoring_nan(pick: Callable[[float, float], float], a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return b if math.isnan(a) else a
    return pick(a, b)


def _quantile(count: int, low: float, high: float, buckets: list[int], q: float) -> float:
    rank = min(max(math.ceil(q * count), 1), count)
    seen = 0
    for index, n in enumerate(buckets):
        seen += n
        if seen >= rank:
            if index == 0:
                return low
            if index == BUCKETS - 1:
                return high
            key = FIRST_KEY + index - 1
            lower, upper = _f64(key << SHIFT), _f64((key + 1) << SHIFT)
            return _fmin(_fmax(lower + (upper - lower) / 2.0, low), high)
    return high


def _float(x: float) -> float | None:
    return x if math.isfinite(x) else None


# --- mmstats version 1 files -----------------------------------------------------

MM_CODES: dict[bytes, tuple[str, int]] = {
    b"Q": ("u", 8), b"L": ("u", 8), b"q": ("i", 8), b"l": ("i", 8), b"I": ("u", 4), b"i": ("i", 4),
    b"H": ("u", 2), b"h": ("i", 2), b"B": ("u", 1), b"b": ("i", 1), b"?": ("?", 1), b"f": ("f", 4),
    b"d": ("d", 8), b"c": ("s", 1), b"s": ("s", 1),
}


def _mm_code(sig: bytes) -> tuple[str, int] | None:
    if sig in MM_CODES:
        return MM_CODES[sig]
    if len(sig) > 1 and sig.endswith(b"s") and sig[:-1].isdigit():
        return ("s", int(sig[:-1]))
    return None


def _mm_value(kind: str, raw: bytes) -> Stat:
    if kind == "u":
        return int.from_bytes(raw, "little")
    if kind == "i":
        return int.from_bytes(raw, "little", signed=True)
    if kind == "?":
        return raw != b"\0"
    if kind == "f":
        return _float(struct.unpack("<f", raw)[0])
    if kind == "d":
        return _float(struct.unpack("<d", raw)[0])
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def decode_mmstats(data: bytes) -> Decoded:
    """Decodes an mmstats version 1 file; raises FormatError."""
    at = 1
    stats: Stats = {}
    pid: int | None = None
    while at + 1 < len(data) or (at < len(data) and data[at] != 0):
        label_len = _u(data, at, 2, "field label length")
        if label_len == 0:
            break
        _need(data, at + 2, label_len, "field label")
        label = data[at + 2:at + 2 + label_len].decode("utf-8", "replace")
        at += 2 + label_len
        sig_len = _u(data, at, 2, "field type length")
        _need(data, at + 2, sig_len, "field type")
        sig = data[at + 2:at + 2 + sig_len]
        at += 2 + sig_len
        code = _mm_code(sig)
        if code is None:
            raise FormatError("corrupt: field %r: unknown type %r" % (label, sig.decode("utf-8", "replace")))
        kind, size = code
        write_buffer = _u(data, at, 1, "field write buffer")
        at += 1
        if write_buffer not in (0, 1, 0xFF):
            raise FormatError("corrupt: field %r: write buffer %d" % (label, write_buffer))
        copies, current = (1, 0) if write_buffer == 0xFF else (2, write_buffer ^ 1)
        _need(data, at, size * copies, "field value")
        value = _mm_value(kind, data[at + current * size:at + (current + 1) * size])
        at += size * copies
        stats[label] = value
        if label.endswith("sys.pid"):
            # A bool is an int to Python, never a pid.
            whole = isinstance(value, int) and not isinstance(value, bool)
            pid = value if isinstance(value, int) and whole and 0 <= value < 2 ** 32 else None
    return "mmstats", pid, stats


# --- files ------------------------------------------------------------------------


def decode(data: bytes) -> Decoded:
    """Decodes a statkit or mmstats file, told apart by the first bytes;
    raises FormatError, whose message starts with the reason (truncated,
    corrupt, size lying, ...)."""
    if data.startswith(MAGIC):
        return decode_statkit(data)
    if data[:1] == b"\x01":
        return decode_mmstats(data)
    if len(data) < len(MAGIC) and MAGIC.startswith(data):
        raise FormatError("truncated: magic needs 8 bytes, the file has %d" % len(data))
    raise FormatError("not a stats file (starts with %s)" % data[:8].hex())


def _chain(data: bytes) -> dict[str, int]:
    """The header fields that tie a chain together (version 1: no chain)."""
    version2 = _u(data, 12, 2, "header") >= 2
    return {
        "segments": _u(data, 128, 4, "header") if version2 else 0,
        "segment": _u(data, 132, 4, "header") if version2 else 0,
        "pid": _u(data, 40, 4, "header"),
        "start_time": _u(data, 56, 8, "header"),
        "created": _u(data, 64, 8, "header"),
    }


def read_file(path: str) -> Decoded:
    """Decodes a file and its continuation files (<path>.1, ...): a missing,
    truncated or foreign continuation fails the whole file."""
    return read_described(path)[0]


def read_described(path: str) -> tuple[Decoded, Descriptions]:
    """read_file, with the help texts and units of the main file (a
    chain's descriptions are all in its main file)."""
    (fmt, pid, stats), descriptions, data = _read_one(path)
    if fmt != "statkit":
        return (fmt, pid, stats), descriptions
    main = _chain(data)
    for n in range(1, main["segments"] + 1):
        try:
            (_, _, more), _, part = _read_one("%s.%d" % (path, n))
        except (OSError, FormatError) as e:
            raise FormatError("broken chain: continuation %d: %s" % (n, e))
        if _chain(part) != dict(main, segments=0, segment=n):
            raise FormatError("broken chain: continuation %d: %s.%d belongs to another file" % (n, path, n))
        stats.update(more)
    return (fmt, pid, stats), descriptions


def _read_untrusted(path: str) -> bytes:
    """A shared folder's file, read as the Rust reader reads it: never
    through a symbolic link, never waiting on a FIFO (O_NONBLOCK), a
    regular file of at most MAX_FILE_BYTES, or OSError."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise OSError(e.errno, "a symbolic link (not followed)", path)
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise OSError(errno.EFBIG, "more than %d bytes" % MAX_FILE_BYTES, path)
            chunks.append(chunk)
    finally:
        os.close(fd)


def _read_one(path: str) -> tuple[Decoded, Descriptions, bytes]:
    """Decodes one file, reading again when a write was caught half done."""
    attempt = 0
    while True:
        data = _read_untrusted(path)
        try:
            decoded, descriptions = _decode_statkit(data) if data.startswith(MAGIC) else (decode(data), {})
        except Torn:
            if attempt == TORN_RETRIES:
                raise
            attempt += 1
            time.sleep(0)
            continue
        return decoded, descriptions, data


def is_mmstats_file(name: str) -> bool:
    """mmstats' own naming: ``*.mmstats`` or ``mmstats-*``."""
    return name.endswith(".mmstats") or name.startswith("mmstats-")


def is_stats_file(name: str) -> bool:
    """A file a folder listing reads: a statkit main file or an mmstats
    file (continuations are read through their main file)."""
    return name.endswith(".statkit") or is_mmstats_file(name)


def _listing(folder: str, wanted: Callable[[str], bool]) -> list[str]:
    names = sorted(n for n in os.listdir(folder) if wanted(n) and os.path.isfile(os.path.join(folder, n)))
    return [os.path.join(folder, n) for n in names]


def discover(paths: list[str]) -> list[str]:
    """Files to read: folders' stats files in name order, other paths as
    given; no paths: the stats folder and mmstats' default folder."""
    found: list[str] = []
    if not paths:
        folder = os.environ.get("STATKIT_DIR") or "/dev/shm/statkit"
        mmstats = os.environ.get("MMSTATS_PATH") or tempfile.gettempdir()
        if os.path.isdir(folder):
            found += _listing(folder, is_stats_file)
        if os.path.isdir(mmstats) and mmstats != folder:
            found += _listing(mmstats, is_mmstats_file)
    for path in paths:
        found += _listing(path, is_stats_file) if os.path.isdir(path) else [path]
    seen: set[str] = set()
    unique: list[str] = []
    for path in found:
        if path not in seen:
            seen.add(path)
            unique.append(path)
    return unique


def main(argv: list[str]) -> int:
    """The command line: prints the JSON of every file, returns the exit
    status (1 when a file was skipped)."""
    out: list[dict[str, object]] = []
    failed = False
    for path in discover(argv):
        try:
            (fmt, pid, stats), descriptions = read_described(path)
        except (OSError, FormatError) as error:
            sys.stderr.write("statkit reader: skipped %s: %s\n" % (path, error))
            failed = True
            continue
        found: dict[str, object] = {"path": path, "format": fmt, "pid": pid, "stats": stats}
        if descriptions:
            found["descriptions"] = descriptions
        out.append(found)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
