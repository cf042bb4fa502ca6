"""statkit.reader against real mmstats files, the Rust side's fuzzer finds,
and statkit files built here byte by byte from docs/format.md.

Files written by the Rust library itself are compared with this reader by
the Rust integration tests (crates/statkit-cli/tests/cli/shm.rs).
"""

import ast
import contextlib
import io
import json
import math
import os
import struct
import tempfile
import unittest
from pathlib import Path

from statkit import reader
from statkit.reader import FormatError

REPO = Path(__file__).resolve().parents[2]
TESTDATA = REPO / "crates" / "statkit-format" / "tests" / "testdata"
MMSTATS = TESTDATA / "mmstats"

HEADER_V2, HEADER_V1, ENTRY_SIZE = 136, 128, 128
BLOCK_SIZE = 16384  # room for three histograms (520 words each) and more


def bits(x: float) -> int:
    """An f64 as the u64 a cell holds."""
    value: int = struct.unpack("<Q", struct.pack("<d", x))[0]
    return value


def bucket(v: float) -> int:
    """docs/format.md's bucket of a value (written independently of the
    reader's percentile code)."""
    if v < 2.0 ** -24:
        return 0
    if v >= 2.0 ** 40:
        return 513
    return 1 + ((bits(v) >> 49) - (999 << 3))


def histogram_cells(values: list[float], seq: int = 1) -> list[int]:
    """One thread's histogram cells: begin, count, sum, min, max, buckets, end."""
    counts = [0] * reader.BUCKETS
    for v in values:
        counts[bucket(v)] += 1
    low = min(values) if values else 0.0
    high = max(values) if values else 0.0
    return [seq, len(values), bits(sum(values)), bits(low), bits(high)] + counts + [seq]


class StatkitFile:
    """A statkit file laid out as docs/format.md says, field by field."""

    def __init__(self, version: int = 2, pid: int = 4242, blocks: int = 3,
                 capacity: int = 8) -> None:
        self.version = version
        self.pid = pid
        self.blocks = blocks
        self.capacity = capacity
        self.flags = 0
        self.state = 1
        self.segments = 0
        self.segment = 0
        self.start_time = 777
        self.created = 1_700_000_000_000_000_000
        self.byte_order = reader.BYTE_ORDER_MARK
        self.entries: list[bytes] = []
        self.cells: dict[tuple[int, int], int] = {}
        self.slots_used = 0

    def add(self, kind: int, label: str, per_block: dict[int, list[int]],
            param: int = 0, label_bytes: bytes | None = None) -> None:
        """A metric with its cells in the given blocks (0: process-wide,
        1..: threads)."""
        words = reader.WORDS.get(kind, 1)  # an unknown kind: one word
        slot = self.slots_used
        self.slots_used += words
        name = label.encode() if label_bytes is None else label_bytes
        self.entries.append(struct.pack("<BBHIII", kind, 0, len(name), slot, words, param)
                            + name.ljust(112, b"\0")[:112])
        for block, cells in per_block.items():
            assert len(cells) == words, (label, len(cells), words)
            for k, word in enumerate(cells):
                self.cells[(block, slot + k)] = word & reader.MASK64

    def header_size(self) -> int:
        return HEADER_V2 if self.version >= 2 else HEADER_V1

    def blocks_offset(self) -> int:
        return self.header_size() + self.capacity * ENTRY_SIZE

    def build(self) -> bytes:
        header = b"STATKIT\0" + struct.pack(
            "<IHHHHIIIQIIIIQQ", self.byte_order, self.version, self.header_size(), ENTRY_SIZE,
            self.flags, self.capacity, BLOCK_SIZE, self.state, self.blocks_offset(), self.pid,
            len(self.entries), self.blocks, self.slots_used, self.start_time, self.created)
        header += b"app".ljust(56, b"\0")
        if self.version >= 2:
            header += struct.pack("<II", self.segments, self.segment)
        assert len(header) == self.header_size()
        table = b"".join(self.entries).ljust(self.capacity * ENTRY_SIZE, b"\0")
        data = bytearray(header + table + bytes(self.blocks * BLOCK_SIZE))
        for (block, word), value in self.cells.items():
            at = self.blocks_offset() + block * BLOCK_SIZE + word * 8
            data[at:at + 8] = struct.pack("<Q", value)
        return bytes(data)


def text_cells(text: bytes, seq: int = 1, length: int | None = None) -> list[int]:
    raw = text.ljust(64, b"\0")
    words = [int.from_bytes(raw[i:i + 8], "little") for i in range(0, 64, 8)]
    return [seq, len(text) if length is None else length] + words + [seq]


def sample() -> StatkitFile:
    """One metric of each kind, the per-thread ones over two threads."""
    f = StatkitFile()
    f.add(reader.COUNTER, "requests{code=200}", {0: [999], 1: [40], 2: [2]})
    f.add(reader.GAUGE, "queue", {0: [bits(2.5)]})
    f.add(reader.TEXT, "version", {0: text_cells(b"1.2.3")})
    f.add(reader.AVERAGE, "load", {1: [3, 2, bits(3.0), 3], 2: [1, 1, bits(1.5), 1]})
    f.add(reader.MOVING_AVERAGE, "recent", {0: [bits(0.75)]}, param=10)
    f.add(reader.HISTOGRAM, "latency", {1: histogram_cells([0.001, 3.0]),
                                        2: histogram_cells([0.002, 0.247])})
    return f


class Folder:
    """A scratch folder for files that must be on disk."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory()
        self.path = self._dir.name

    def write(self, name: str, data: bytes) -> str:
        path = os.path.join(self.path, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def close(self) -> None:
        self._dir.cleanup()


def run_main(argv: list[str]) -> tuple[int, object, str]:
    """reader.main's exit status, parsed stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = reader.main(argv)
    return status, json.loads(out.getvalue()), err.getvalue()


class StatkitFilesTest(unittest.TestCase):
    def test_every_kind_decodes_as_slurp_json_prints_it(self) -> None:
        fmt, pid, stats = reader.decode(sample().build())
        self.assertEqual((fmt, pid), ("statkit", 4242))
        self.assertEqual(list(stats), ["requests{code=200}", "queue", "version", "load",
                                       "recent", "latency"])
        # Block 0 holds no counts for a per-thread kind.
        self.assertEqual(stats["requests{code=200}"], 42)
        self.assertEqual(stats["queue"], 2.5)
        self.assertEqual(stats["version"], "1.2.3")
        self.assertEqual(stats["load"], 1.5)
        self.assertEqual(stats["recent"], 0.75)

    def test_a_histogram_adds_its_threads_and_takes_bucket_midpoints(self) -> None:
        latency = reader.decode(sample().build())[2]["latency"]
        assert isinstance(latency, dict)
        self.assertEqual(latency["count"], 4)
        self.assertAlmostEqual(float(latency["sum"] or 0), 3.25)
        self.assertEqual((latency["min"], latency["max"]), (0.001, 3.0))
        self.assertAlmostEqual(float(latency["mean"] or 0), 0.8125)
        # Rank 2 is 0.002, in [2^-9, 2^-9 * 9/8): the midpoint.
        self.assertEqual(latency["p50"], 2.0 ** -9 * 17 / 16)
        # Rank 4 is 3.0, whose bucket's midpoint (3.125) is clamped to max.
        for p in ("p90", "p99", "p999"):
            self.assertEqual(latency[p], 3.0)

    def test_empty_and_extreme_values(self) -> None:
        f = StatkitFile()
        # A thread that recorded nothing: its min and max mean nothing.
        empty = histogram_cells([])
        empty[3], empty[4] = bits(-1e9), bits(1e9)
        f.add(reader.HISTOGRAM, "tiny", {1: histogram_cells([0.0, 1e-30]), 2: empty})
        f.add(reader.HISTOGRAM, "huge", {1: histogram_cells([2.0 ** 41, 2.0 ** 50])})
        f.add(reader.HISTOGRAM, "none", {1: histogram_cells([])})
        f.add(reader.AVERAGE, "idle", {1: [0, 0, 0, 0]})
        f.add(reader.GAUGE, "nan", {0: [bits(math.nan)]})
        f.add(reader.COUNTER, "wraps", {1: [reader.MASK64], 2: [3]})
        stats = reader.decode(f.build())[2]
        self.assertEqual(stats["tiny"], {"count": 2, "sum": 1e-30, "min": 0.0, "max": 1e-30,
                                         "mean": 5e-31, "p50": 0.0, "p90": 0.0, "p99": 0.0,
                                         "p999": 0.0})
        huge = stats["huge"]
        assert isinstance(huge, dict)
        # Bucket 513 (2^40 and more) answers the exact max, bucket 0 the min.
        self.assertEqual((huge["p50"], huge["p90"]), (2.0 ** 50, 2.0 ** 50))
        self.assertEqual(stats["none"], {"count": 0, "sum": 0.0, "min": None, "max": None,
                                         "mean": None, "p50": None, "p90": None, "p99": None,
                                         "p999": None})
        self.assertIsNone(stats["idle"])
        self.assertIsNone(stats["nan"])
        self.assertEqual(stats["wraps"], 2)

    def test_retired_totals_have_no_pid_and_version_1_is_read(self) -> None:
        f = sample()
        f.flags = reader.FLAG_RETIRED
        self.assertIsNone(reader.decode(f.build())[1])
        old = sample()
        old.version = 1
        fmt, pid, stats = reader.decode(old.build())
        self.assertEqual((fmt, pid, stats["requests{code=200}"]), ("statkit", 4242, 42))

    def test_text_of_bad_bytes_is_replaced_and_cut_to_a_cell(self) -> None:
        f = StatkitFile()
        f.add(reader.TEXT, "bad", {0: text_cells(b"\xff" * 64)})
        text = reader.decode(f.build())[2]["bad"]
        assert isinstance(text, str)
        self.assertEqual(text, "\ufffd" * 21)
        self.assertLessEqual(len(text.encode()), 64)

    def test_descriptions_are_read_and_a_lying_section_refused(self) -> None:
        # Written by the Rust encoder (statkit-format's tests keep it current).
        path = str(TESTDATA / "described.statkit")
        (fmt, pid, stats), descriptions = reader.read_described(path)
        self.assertEqual(stats, {"requests{code=200}": 7, "queue": -2.5})
        self.assertEqual(descriptions, {
            "requests": {"unit": "", "help": "requests served, by status"},
            "latency_seconds": {"unit": "seconds", "help": "time to answer"},
        })
        data = bytearray((TESTDATA / "described.statkit").read_bytes())
        for at, value, reason in ((148, 1 << 21, "size lying: descriptions used"),
                                  (144, (1 << 20) + 8, "size lying: descriptions size"),
                                  (136, 8, "corrupt: descriptions at 8 overlap")):
            lying = bytearray(data)
            width = 8 if at == 136 else 4
            lying[at:at + width] = value.to_bytes(width, "little")
            with self.assertRaisesRegex(FormatError, reason):
                reader.decode(bytes(lying))
        # The section's fields wiped (an older reader's view): values only.
        data[136:152] = bytes(16)
        self.assertEqual(reader.decode(bytes(data))[2], stats)
        # A file written before the section existed.
        old = reader.decode((TESTDATA / "v2-header-136.statkit").read_bytes())
        self.assertEqual(old[2]["requests{code=200}"], 7)

    def test_what_the_fuzzer_found_on_the_rust_side(self) -> None:
        data = (TESTDATA / "fuzz-blocks-offset-overflow.statkit").read_bytes()
        with self.assertRaisesRegex(FormatError, "^truncated: blocks"):
            reader.decode(data)
        data = (TESTDATA / "fuzz-lossy-text-too-long.statkit").read_bytes()
        text = reader.decode(data)[2]["version"]
        assert isinstance(text, str)
        self.assertIn("\ufffd", text)
        self.assertLessEqual(len(text.encode()), 64)


class RefusedFilesTest(unittest.TestCase):
    """Each check of docs/format.md, with the reason it names."""

    def refused(self, data: bytes, reason: str) -> None:
        with self.assertRaises(FormatError) as caught:
            reader.decode(data)
        self.assertTrue(str(caught.exception).startswith(reason), str(caught.exception))

    def test_truncated_files(self) -> None:
        data = sample().build()
        self.refused(data[:100], "truncated: header needs 128 bytes, the file has 100")
        self.refused(data[:5], "truncated: magic needs 8 bytes, the file has 5")
        self.refused(data[:130], "truncated: header needs 132 bytes, the file has 130")
        self.refused(data[:-1], "truncated: blocks needs %d bytes" % len(data))
        self.refused(data[:1500], "truncated: blocks")

    def test_header_checks(self) -> None:
        self.refused(b"GIF89a" + bytes(200), "not a stats file (starts with 474946383961")
        cases: list[tuple[str, object, str]] = [
            ("byte_order", 0x04030201, "wrong endianness"),
            ("byte_order", 7, "corrupt: byte-order mark"),
            ("version", 3, "unsupported format version 3"),
            ("state", 0, "not ready"),
            ("blocks", 0, "corrupt: no block 0"),
            ("segments", 64, "size lying: segments is 64"),
            ("capacity", 1, "size lying: entries is 6, more than the 1"),
        ]
        for field, value, reason in cases:
            f = sample()
            setattr(f, field, value)
            with self.subTest(field=field, value=value):
                self.refused(f.build(), reason)

    def test_entry_checks(self) -> None:
        f = StatkitFile()
        f.add(9, "odd", {})
        self.refused(f.build(), "corrupt: entry 0: unknown kind 9")
        f = StatkitFile()
        f.add(reader.GAUGE, "x", {}, label_bytes=b"\xff\xfe")
        self.refused(f.build(), "corrupt: entry 0: label is not UTF-8")
        f = StatkitFile()
        f.add(reader.GAUGE, "x" * 113, {})
        self.refused(f.build(), "size lying: entry name length is 113")
        f = StatkitFile()
        f.add(reader.GAUGE, "x", {})
        f.slots_used = 0
        self.refused(f.build(), "size lying: entry cells end is 1, more than the 0")

    def test_cell_checks(self) -> None:
        f = StatkitFile()
        f.add(reader.TEXT, "long", {0: text_cells(b"abc", length=65)})
        self.refused(f.build(), "size lying: text length is 65")
        f = StatkitFile()
        f.add(reader.AVERAGE, "load", {1: [4, 1, bits(1.0), 3]})
        with self.assertRaisesRegex(reader.Torn, "^torn: load was being written"):
            reader.decode(f.build())


class FilesOnDiskTest(unittest.TestCase):
    def setUp(self) -> None:
        self.folder = Folder()

    def tearDown(self) -> None:
        self.folder.close()

    def test_a_chain_reads_its_continuations(self) -> None:
        main = sample()
        main.segments = 1
        path = self.folder.write("app-4242.statkit", main.build())
        more = StatkitFile()
        more.segment = 1
        more.add(reader.COUNTER, "errors", {1: [5]})
        self.folder.write("app-4242.statkit.1", more.build())
        fmt, pid, stats = reader.read_file(path)
        self.assertEqual((fmt, pid, stats["errors"], stats["queue"]), ("statkit", 4242, 5, 2.5))

    def test_a_broken_chain_fails_the_whole_file(self) -> None:
        main = sample()
        main.segments = 1
        path = self.folder.write("app-4242.statkit", main.build())
        with self.assertRaisesRegex(FormatError, "^broken chain: continuation 1: .*No such file"):
            reader.read_file(path)
        stale = StatkitFile()
        stale.segment = 1
        stale.start_time = 1  # an earlier process with the same pid
        self.folder.write("app-4242.statkit.1", stale.build())
        with self.assertRaisesRegex(FormatError, "belongs to another file"):
            reader.read_file(path)

    def test_a_torn_file_is_read_again_then_reported(self) -> None:
        f = StatkitFile()
        f.add(reader.AVERAGE, "load", {1: [4, 1, bits(1.0), 3]})
        path = self.folder.write("app-1.statkit", f.build())
        with self.assertRaisesRegex(reader.Torn, "torn"):
            reader.read_file(path)

    def test_folders_list_stats_files_in_name_order(self) -> None:
        for name in ("b-2.statkit", "a-1.statkit", "a-1.statkit.1", "x.mmstats", "mmstats-y",
                     "notes.txt"):
            self.folder.write(name, b"")
        names = [os.path.basename(p) for p in reader.discover([self.folder.path])]
        self.assertEqual(names, ["a-1.statkit", "b-2.statkit", "mmstats-y", "x.mmstats"])

    def test_without_paths_the_stats_folder_and_mmstats_folder(self) -> None:
        mm = Folder()
        self.addCleanup(mm.close)
        self.folder.write("web-1.statkit", b"")
        self.folder.write("other.mmstats", b"")
        mm.write("mmstats-9", b"")
        mm.write("web-2.statkit", b"")  # not an mmstats file: not read there
        saved = {k: os.environ.get(k) for k in ("STATKIT_DIR", "MMSTATS_PATH")}
        os.environ["STATKIT_DIR"], os.environ["MMSTATS_PATH"] = self.folder.path, mm.path
        try:
            found = reader.discover([])
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        self.assertEqual([os.path.relpath(p, os.path.dirname(p)) for p in found],
                         ["other.mmstats", "web-1.statkit", "mmstats-9"])

    def test_the_command_prints_json_and_names_what_it_skipped(self) -> None:
        good = self.folder.write("app-4242.statkit", sample().build())
        cut = self.folder.write("cut-7.statkit", sample().build()[:1000])
        status, out, err = run_main([good, cut, os.path.join(self.folder.path, "gone.statkit")])
        self.assertEqual(status, 1)
        assert isinstance(out, list)
        self.assertEqual([(o["path"], o["format"], o["pid"]) for o in out],
                         [(good, "statkit", 4242)])
        self.assertEqual(out[0]["stats"]["requests{code=200}"], 42)
        lines = err.splitlines()
        self.assertEqual(len(lines), 2)
        self.assertTrue(lines[0].startswith("statkit reader: skipped %s: truncated: blocks needs "
                                            % cut), lines[0])
        self.assertIn("gone.statkit: [Errno 2] No such file", lines[1])
        status, out, err = run_main([good])
        self.assertEqual((status, err), (0, ""))


def mmstats_reference() -> dict[str, list[tuple[str, object]]]:
    """What mmstats' own reader printed for each sample (Python 2 reprs)."""
    files: dict[str, list[tuple[str, object]]] = {}
    current: list[tuple[str, object]] = []
    for line in (MMSTATS / "reader-decoded.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("== "):
            current = files.setdefault(line[3:], [])
        elif " = " in line:
            label, value = line.strip().split(" = ", 1)
            current.append((ast.literal_eval(label), ast.literal_eval(value)))
    return files


def mmstats_field(label: bytes, code: bytes, values: bytes, write_buffer: int) -> bytes:
    return (struct.pack("<H", len(label)) + label + struct.pack("<H", len(code)) + code
            + bytes([write_buffer]) + values)


class MmstatsTest(unittest.TestCase):
    def test_mmstats_samples_decode_to_what_mmstats_read(self) -> None:
        reference = mmstats_reference()
        self.assertEqual(len(reference), 8)
        for name, expected in reference.items():
            with self.subTest(file=name):
                fmt, _, stats = reader.decode((MMSTATS / name).read_bytes())
                self.assertEqual(fmt, "mmstats")
                self.assertEqual(list(stats.items()), expected)
                for (_, got), (_, want) in zip(stats.items(), expected):
                    self.assertIs(type(got), type(want))

    def test_the_pid_is_the_last_sys_pid_field(self) -> None:
        def pid(name: str) -> int | None:
            return reader.decode((MMSTATS / name).read_bytes())[1]

        self.assertEqual(pid("alltypes.mmstats"), 13740)
        self.assertEqual(pid("one-staticuint.mmstats"), 12345)
        self.assertIsNone(pid("one-counter.mmstats"))

    def test_double_buffers_and_refusals(self) -> None:
        # Buffer 0 being written: the current value is the other one.
        data = b"\x01" + mmstats_field(b"hits", b"Q", struct.pack("<QQ", 1, 2), 0)
        self.assertEqual(reader.decode(data)[2], {"hits": 2})
        self.assertEqual(reader.decode(data + b"\0\0")[2], {"hits": 2})
        with self.assertRaisesRegex(FormatError, "^truncated: field value needs 27 bytes, the file has 26"):
            reader.decode(data[:-1])
        bad = b"\x01" + mmstats_field(b"x", b"z", b"\0", 0xFF)
        with self.assertRaisesRegex(FormatError, "^corrupt: field 'x': unknown type 'z'"):
            reader.decode(bad)
        bad = b"\x01" + mmstats_field(b"x", b"B", b"\0\0", 2)
        with self.assertRaisesRegex(FormatError, "^corrupt: field 'x': write buffer 2"):
            reader.decode(bad)


if __name__ == "__main__":
    unittest.main()
