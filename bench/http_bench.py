#!/usr/bin/env python3
"""The HTTP server's benchmarks and the dashboard screenshot.

    python3 bench/http_bench.py ingest       # ingest cost with and without 100 HTTP requests/s
    python3 bench/http_bench.py paint        # dashboard first paint with 10k series (Chromium)
    python3 bench/http_bench.py screenshot   # docs/dashboard.png from a minute of shop traffic

Standard library only; needs target/release/statkit (cargo build --release)
and, for `paint` and `screenshot`, Debian's chromium. Everything runs on
127.0.0.1; every server and browser started here is stopped by its PID, and
every wait has a deadline.
"""

import argparse
import fcntl
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATKIT = REPO / "target" / "release" / "statkit"
DEADLINE = 60.0


def stop_process(proc):
    """SIGTERM, then SIGKILL after 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Server:
    """`statkit serve` on free loopback ports, stopped on exit."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [str(STATKIT), "serve", "--statsd", "127.0.0.1:0", "--admin", "127.0.0.1:0",
             "--http", "127.0.0.1:0", "--console=false", "--state-dir", "off", *args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.addrs = {}
        end = time.monotonic() + DEADLINE
        for line in self.proc.stdout:
            if line.strip() == "ready":
                break
            words = line.split()
            if words[:1] == ["listening"]:
                self.addrs[words[1]] = words[2]
            if time.monotonic() > end:
                raise RuntimeError("statkit serve did not start")
        self.udp = self.addrs["statsd-udp"]
        host, port = self.addrs["http"].rsplit(":", 1)
        self.http = (host, int(port))

    def get(self, path):
        conn = http.client.HTTPConnection(*self.http, timeout=10)
        conn.request("GET", path)
        body = conn.getresponse().read()
        conn.close()
        return body

    def thread_cpu(self, name_prefix):
        """CPU seconds of the server's threads whose name starts with the
        prefix, from the scheduler's nanosecond run time (`schedstat`), not
        the 10 ms ticks of `stat`: a round's receiver time is well under a
        second, where ticks alone would carry a few percent of rounding."""
        total = 0
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            if (task / "comm").read_text().strip().startswith(name_prefix):
                total += int((task / "schedstat").read_text().split()[0])
        return total / 1e9

    def stop(self):
        stop_process(self.proc)


def bench(server, *args):
    out = subprocess.run([str(STATKIT), "bench", "--statsd", server.udp, *args],
                         capture_output=True, text=True, timeout=300)
    return out.stdout + out.stderr


class Requests(threading.Thread):
    """GETs across every HTTP route at a steady rate until stopped, over one
    kept-alive connection (as a scraper or a dashboard holds one)."""

    PATHS = ["/metrics", "/api/v1/metrics?limit=100", "/api/v1/health", "/load/5",
             "/api/v1/history?kind=counter&name=mix.c.1", "/", "/assets/dashboard.js"]

    def __init__(self, server, rate):
        super().__init__(daemon=True)
        self.server, self.rate, self.done, self.count = server, rate, threading.Event(), 0

    def run(self):
        start = time.monotonic()
        conn = None
        while not self.done.is_set() and time.monotonic() - start < 600:
            try:
                conn = conn or http.client.HTTPConnection(*self.server.http, timeout=10)
                conn.request("GET", self.PATHS[self.count % len(self.PATHS)])
                conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                conn = None
            self.count += 1
            pause = start + self.count / self.rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        if conn:
            conn.close()


def ingest(args):
    """Receiver CPU per million lines: without HTTP load, with it, and with
    the same load served by a twin server beside the measured one."""
    results = {}
    labels = [("no HTTP", None), (f"{args.rate:g} HTTP req/s to it", "self"),
              (f"{args.rate:g} HTTP req/s to a twin", "twin")]
    for label, target in labels * args.rounds:
        server = Server("--flush-interval", "1")
        twin = None
        if target == "twin":
            # The twin holds the same series, so its answers cost the same.
            twin = Server("--flush-interval", "1")
            bench(twin, "-n", str(args.line_rate), "--rate", str(args.line_rate))
        requests = Requests(twin or server, args.rate) if target else None
        if requests:
            requests.start()
        wall = time.monotonic()
        out = bench(server, "-n", str(args.lines), "--rate", str(args.line_rate))
        wall = time.monotonic() - wall
        cpu = server.thread_cpu("statkit-udp")
        if requests:
            requests.done.set()
            requests.join()
        server.stop()
        if twin:
            twin.stop()
        per_million = cpu / args.lines * 1e6
        results.setdefault(label, []).append(per_million)
        served = f", {requests.count / wall:.0f} req/s served" if requests else ""
        print(f"{label}: receiver {per_million:.3f} CPU s per million lines{served}", flush=True)
        if args.verbose:
            print(out)
    # Medians: on a shared machine single rounds vary by tens of percent.
    base, loaded, twin = (statistics.median(results[label]) for label, _ in labels)
    print(f"medians: {base:.3f} without HTTP, {loaded:.3f} serving it, {twin:.3f} while a twin "
          f"serves it (CPU s per million lines)")
    print(f"serving HTTP: ingest throughput {100 * (base / loaded - 1):+.1f}% against no HTTP; "
          f"{100 * (twin / loaded - 1):+.1f}% against the same load on the twin")


class Browser:
    """Headless Chromium driven over its DevTools pipe (fds 3 and 4)."""

    def __init__(self, profile):
        # Chromium reads commands on fd 3 and answers on fd 4; its ends are
        # moved above 10 first so that placing them cannot clobber ours.
        def high(fd):
            moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
            os.close(fd)
            return moved

        commands, self.to_chrome = map(high, os.pipe())
        self.from_chrome, answers = map(high, os.pipe())

        def place():
            os.dup2(commands, 3)
            os.dup2(answers, 4)

        self.proc = subprocess.Popen(
            [shutil.which("chromium") or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", f"--user-data-dir={profile}",
             "--remote-debugging-pipe", "--window-size=1280,900", "about:blank"],
            preexec_fn=place, pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(commands)
        os.close(answers)
        self.next_id, self.buffer = 0, b""

    def call(self, method, session=None, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            while b"\0" not in self.buffer:
                self.buffer += os.read(self.from_chrome, 1 << 16)
            raw, self.buffer = self.buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
        raise RuntimeError(f"no answer to {method}")

    def open(self, url):
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable", session)
        self.call("Page.navigate", session, url=url)
        return session

    def evaluate(self, session, expression):
        result = self.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_for(self, session, expression):
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            value = self.evaluate(session, expression)
            if value:
                return value
            time.sleep(0.05)
        raise RuntimeError(f"{expression} never became true")

    def close(self):
        stop_process(self.proc)


TIMING = """(() => {
  const drawn = Number(document.body.dataset.drawnMs || 0);
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  return drawn ? {drawn, fcp: fcp ? Math.round(fcp.startTime) : null,
                  cards: document.querySelectorAll('section.card').length} : null;
})()"""


def paint(args):
    """First paint and first charts of the dashboard over a store of N series."""
    server = Server("--flush-interval", "1", "--store-max-series", str(args.series * 2))
    per_kind = args.series // 5
    # Names are taken in turn per kind; the rarest kinds get 10% of the lines.
    bench(server, "--names", str(per_kind), "-n", str(per_kind * 20), "--rate", "50000")
    end = time.monotonic() + DEADLINE
    while json.loads(server.get("/api/v1/metrics?limit=1&own=false"))["matching"] < args.series:
        if time.monotonic() > end:
            raise RuntimeError("the store never held the series")
        time.sleep(0.2)
    stored = json.loads(server.get("/api/v1/metrics?limit=1"))["stored"]
    profile = tempfile.mkdtemp(prefix="statkit-paint-")
    browser = Browser(profile)
    try:
        for i in range(args.rounds):
            session = browser.open(f"http://{server.http[0]}:{server.http[1]}/")
            timing = browser.wait_for(session, TIMING)
            print(f"round {i + 1}: {stored} series stored; first contentful paint {timing['fcp']} ms, "
                  f"{timing['cards']} charts drawn at {timing['drawn']} ms", flush=True)
    finally:
        browser.close()
        server.stop()
        shutil.rmtree(profile, ignore_errors=True)


def shop_traffic(to, seconds, done):
    """A shop's statsd traffic, one burst a second, its load in waves."""
    host, port = to.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rng = random.Random(7)
    for second in range(seconds):
        if done.is_set():
            break
        wave = 1 + 0.5 * ((second % 30) / 15 - 1) ** 2
        lines = []
        for _ in range(int(40 * wave)):
            lines.append("shop.checkout.requests:1|c|#region:eu")
            lines.append(f"shop.checkout.latency:{rng.lognormvariate(3.3, 0.4) * wave:.1f}|ms")
        for _ in range(int(25 / wave)):
            lines.append("shop.search.requests:1|c|#region:us")
        lines.append(f"shop.queue.depth:{int(20 * wave + rng.random() * 5)}|g")
        lines.append(f"shop.cart.items:{3 + rng.random():.2f}|g")
        lines += [f"shop.visitors:u{rng.randrange(400)}|s" for _ in range(30)]
        if second % 7 == 0:
            lines.append("shop.checkout.errors:1|c")
        for i in range(0, len(lines), 20):
            sock.sendto("\n".join(lines[i:i + 20]).encode(), (host, int(port)))
        time.sleep(1)


def pipe_writer(folder, done):
    """This process as a statvent writer: a FIFO <pid>.stats in `folder`,
    a snapshot of a worker's numbers to each reader, until `done`."""
    path = Path(folder) / f"{os.getpid()}.stats"
    served = 0
    while not done.is_set():
        if not path.exists():
            os.mkfifo(path)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # no reader yet
            time.sleep(0.05)
            continue
        served += 1
        text = f"jobs.done: {1200 + 17 * served}\njobs.failed: 3\nqueue.wait_ms: {4.5 + served % 3:f}\n"
        os.write(fd, text.encode())
        os.close(fd)
        path.unlink()
    path.unlink(missing_ok=True)


def screenshot(args):
    """docs/dashboard.png: a shop's metrics, taken while its traffic flows,
    with a process table of a statvent pipe (this script) and an mmstats
    file whose writer is gone."""
    stats_dir = tempfile.mkdtemp(prefix="statkit-shot-stats-")
    pipe_dir = tempfile.mkdtemp(prefix="statkit-shot-pipes-")
    mmstats = REPO / "crates" / "statkit-format" / "tests" / "testdata" / "mmstats" / "alltypes.mmstats"
    shutil.copy(mmstats, Path(stats_dir) / "worker-old.mmstats")
    server = Server("--flush-interval", "1", "--stats-dir", stats_dir, "--pipe-dir", pipe_dir)
    done = threading.Event()
    traffic = threading.Thread(target=shop_traffic, args=(server.udp, args.seconds + 60, done))
    traffic.start()
    pipes = threading.Thread(target=pipe_writer, args=(pipe_dir, done))
    pipes.start()
    profile = tempfile.mkdtemp(prefix="statkit-shot-")
    out = REPO / "docs" / "dashboard.png"
    try:
        time.sleep(args.seconds)
        subprocess.run(
            [shutil.which("chromium") or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", f"--user-data-dir={profile}",
             "--hide-scrollbars", "--window-size=1280,900", "--virtual-time-budget=5000",
             f"--screenshot={out}", f"http://{server.http[0]}:{server.http[1]}/?filter=shop."],
            check=True, timeout=120, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"wrote {out}")
    finally:
        done.set()
        traffic.join()
        pipes.join()
        server.stop()
        for folder in (profile, stats_dir, pipe_dir):
            shutil.rmtree(folder, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="test", required=True)
    p = sub.add_parser("ingest")
    p.add_argument("--rate", type=float, default=100, help="HTTP requests per second")
    p.add_argument("--lines", type=int, default=3_000_000)
    p.add_argument("--line-rate", type=int, default=300_000, help="statsd lines per second")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--verbose", action="store_true")
    p = sub.add_parser("paint")
    p.add_argument("--series", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=3)
    p = sub.add_parser("screenshot")
    p.add_argument("--seconds", type=int, default=90)
    args = parser.parse_args()
    if not STATKIT.exists():
        sys.exit(f"{STATKIT} missing: run cargo build --release")
    {"ingest": ingest, "paint": paint, "screenshot": screenshot}[args.test](args)


if __name__ == "__main__":
    main()
