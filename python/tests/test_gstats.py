"""The hooks against a real UDP socket on loopback, and with nothing there."""

import gc
import os
import socket
import time
import tracemalloc
import unittest
from typing import Any

from statkit import gstats


class Request:
    """What gunicorn passes: an object that takes attributes."""


class SlottedRequest:
    """A request object that takes no attributes."""

    __slots__ = ("path",)


class Response:
    status = "404 Not Found"
    status_code = 404


class Receiver:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]

    def lines(self) -> list[str]:
        return self.sock.recv(65536).decode().split("\n")

    def close(self) -> None:
        self.sock.close()


def closed_port() -> str:
    """A loopback UDP port with nothing listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return "127.0.0.1:%d" % port


class HooksTest(unittest.TestCase):
    def setUp(self) -> None:
        self.receiver = Receiver()

    def tearDown(self) -> None:
        self.receiver.close()

    def test_start_and_end_send_statsd(self) -> None:
        req = Request()
        gstats.start_request(req, collect=True, collector_addr=self.receiver.address,
                             prefix="my_app")
        self.assertEqual(self.receiver.lines(), ["statkit.requests.my_app.started:1|c"])
        time.sleep(0.01)
        ms = gstats.end_request(req, collector_addr=self.receiver.address, prefix="my_app",
                                resp=Response())
        assert ms is not None
        lines = self.receiver.lines()
        self.assertEqual(len(lines), 2)
        name, rest = lines[0].split(":")
        self.assertEqual(name, "statkit.requests.my_app.duration")
        self.assertTrue(rest.endswith("|ms"))
        self.assertAlmostEqual(float(rest[:-3]), ms, places=3)
        self.assertGreaterEqual(ms, 10.0)
        self.assertEqual(lines[1], "statkit.requests.my_app.status.404:1|c")
        self.assertFalse(hasattr(req, "_statkit_started"))

    def test_collector_keyword_of_gstats_readme(self) -> None:
        req = Request()
        gstats.start_request(req, collect=True, collector=self.receiver.address,
                             prefix="other.App-1")
        self.assertEqual(self.receiver.lines(), ["statkit.requests.other.App-1.started:1|c"])
        gstats.end_request(req, collector="udp://" + self.receiver.address,
                           prefix="other.App-1", status=200)
        self.assertEqual(self.receiver.lines()[1], "statkit.requests.other.App-1.status.200:1|c")

    def test_without_collect_only_the_end_is_sent(self) -> None:
        req = Request()
        gstats.start_request(req, collector=self.receiver.address)
        gstats.end_request(req, collector=self.receiver.address, prefix="")
        lines = self.receiver.lines()
        self.assertEqual(len(lines), 1)
        self.assertTrue(lines[0].startswith("statkit.requests.default.duration:"))

    def test_unknown_request_sends_nothing(self) -> None:
        before = gstats.counts().get("unknown", 0)
        self.assertIsNone(gstats.end_request(Request(), collector=self.receiver.address))
        self.assertEqual(gstats.counts()["unknown"], before + 1)
        self.receiver.sock.settimeout(0.2)
        with self.assertRaises(socket.timeout):
            self.receiver.sock.recv(100)

    def test_prefixes_are_sanitized_like_statsd_keys(self) -> None:
        self.assertEqual(gstats.metric_prefix("my app/v2:|@x"), "my_app-v2x")
        self.assertEqual(gstats.metric_prefix(None), "default")

    def test_objects_without_attributes_use_a_bounded_table(self) -> None:
        req = SlottedRequest()
        gstats.start_request(req, collector=self.receiver.address)
        self.assertIsNotNone(gstats.end_request(req, collector=self.receiver.address))
        before = gstats.counts().get("evicted", 0)
        kept = [SlottedRequest() for _ in range(gstats.MAX_PENDING + 5)]
        for r in kept:
            gstats.start_request(r, collector=self.receiver.address)
        self.assertLessEqual(len(gstats._pending), gstats.MAX_PENDING)
        self.assertEqual(gstats.counts()["evicted"], before + 5)
        gstats._pending.clear()


class NothingListeningTest(unittest.TestCase):
    """statkit down or absent: no exception, no wait, no growth."""

    def test_never_raises_or_blocks(self) -> None:
        address = closed_port()
        started = time.monotonic()
        for _ in range(2000):
            req = Request()
            gstats.start_request(req, collect=True, collector=address)
            self.assertIsNotNone(gstats.end_request(req, collector=address, status=200))
        # Generous: 4000 sends to nowhere take milliseconds, a blocking
        # send would take forever.
        self.assertLess(time.monotonic() - started, 30)

    def test_bad_addresses_are_counted_not_raised(self) -> None:
        before = gstats.counts().get("errors", 0)
        req = Request()
        gstats.start_request(req, collect=True, collector="no port here")
        gstats.end_request(req, collector="127.0.0.1:notaport")
        self.assertEqual(gstats.counts()["errors"], before + 2)

    def test_requests_that_never_end_leak_nothing(self) -> None:
        address = closed_port()
        gc.collect()
        tracemalloc.start()
        for _ in range(200):
            gstats.start_request(Request(), collect=True, collector=address)
        gc.collect()
        baseline = tracemalloc.get_traced_memory()[0]
        for _ in range(20000):
            gstats.start_request(Request(), collect=True, collector=address)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - baseline
        tracemalloc.stop()
        # 20000 requests kept would hold megabytes.
        self.assertLess(grown, 64 * 1024)

    def test_a_send_that_would_block_is_dropped_and_counted(self) -> None:
        # Linux never makes a loopback UDP send wait, so the kernel's
        # EAGAIN is played by a socket that always answers it.
        class FullSocket:
            def sendto(self, payload: bytes, address: tuple[Any, ...], /) -> int:
                raise BlockingIOError(11, "Resource temporarily unavailable")

        key = (os.getpid(), socket.AF_INET)
        previous = gstats._sockets.get(key)
        gstats._sockets[key] = FullSocket()
        try:
            dropped = gstats.counts().get("dropped", 0)
            req = Request()
            gstats.start_request(req, collect=True, collector=closed_port())
            self.assertIsNotNone(gstats.end_request(req, collector=closed_port()))
            self.assertEqual(gstats.counts()["dropped"], dropped + 2)
        finally:
            if previous is not None:
                gstats._sockets[key] = previous
            else:
                del gstats._sockets[key]


if __name__ == "__main__":
    unittest.main()
