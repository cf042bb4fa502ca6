#!/usr/bin/env python3
"""Side-by-side benchmark of statsd servers, driven by `statkit bench`.

For every peer (statkit, etsy statsd 0.9.0, the null floor receiver, and any
server given with --peer) and every test, this script starts a fresh server
on loopback ports, points its Graphite output at the receiver inside
`statkit bench --check`, runs the load, and reads the server's CPU time
(utime+stime from /proc/PID/stat, before the load and after the flush that
follows it) and peak RSS (VmHWM from /proc/PID/status). It prints a table and
writes every raw figure to a JSON file.

Python 3 standard library only. Loopback only. Every wait has a deadline,
every loop a fixed number of steps, and every process started here is
stopped by its PID, also on Ctrl-C, SIGTERM or an exception.

    python3 bench/compare.py --quick                  # a few minutes
    python3 bench/compare.py --rounds 2               # the full set
    python3 bench/compare.py --peer 'mine=./mystatsd -p {port} -g {gport} -f {flush}'

See bench/README.md for the methodology.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

MIXED = "c=50,sc=10,ms=20,g=10,s=10"
COUNTERS = "c=100"
ALL_TESTS = ["cpu_batch", "cpu_single", "cpu_counters", "loss_batch", "loss_single", "rss", "rss_counters"]
BUILTIN_PEERS = ["statkit", "etsy", "null"]
# Built in but not run unless asked: statkit with its state folder
# (checkpoints every second, a disk queue per sink), for the cost of
# durability beside "statkit" (which runs with --state-dir off).
OPTIONAL_PEERS = ["statkit-state"]

# Loss at or above this percentage ends the loss-free part of a ladder.
LOSS_THRESHOLD_PCT = 0.1


class BenchError(Exception):
    """A test that could not produce a figure (server died, bench failed)."""


# --------------------------------------------------------------------------
# /proc readers

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ns(pid):
    """utime+stime (+ waited-for children) of a process, in nanoseconds."""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    # The command name is in parentheses and may contain spaces.
    fields = text[text.rindex(")") + 2:].split()
    # After the name: state is field 3, utime 14 ... cstime 17 (1-based).
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime + cutime + cstime) * 1_000_000_000 // CLK_TCK


def vmhwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise BenchError(f"no VmHWM for pid {pid}")


def udp_rcvbuf_errors():
    """The kernel's machine-wide count of UDP datagrams dropped because a
    socket buffer was full (/proc/net/snmp, Udp: RcvbufErrors)."""
    try:
        with open("/proc/net/snmp") as f:
            rows = [line.split() for line in f if line.startswith("Udp:")]
        header, values = rows[0], rows[1]
        return int(values[header.index("RcvbufErrors")])
    except (OSError, ValueError, IndexError):
        return None


def udp_port_bound(port):
    """Whether some socket is bound to UDP `port` (IPv4 or IPv6)."""
    want = f":{port:04X}"
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                next(f, None)
                for line in f:
                    parts = line.split()
                    if len(parts) > 1 and parts[1].endswith(want):
                        return True
        except OSError:
            continue
    return False


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1 (20 tries)."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise BenchError("no free loopback port found")


# --------------------------------------------------------------------------
# Servers


class Server:
    """One running server process, started in its own session so that a
    Ctrl-C in the terminal reaches this script, which then stops it."""

    def __init__(self, peer, argv, workdir, cwd=None):
        self.peer = peer
        self.argv = argv
        self.workdir = workdir
        self.cwd = cwd or workdir
        self.proc = None
        self.port = None
        self.log_path = os.path.join(workdir, "server.log")

    def start(self, port, timeout=20.0):
        self.port = port
        log = open(self.log_path, "w")
        try:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        LIVE.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.peer} exited at start ({self.proc.returncode}); "
                                 f"log: {self.tail()}")
            if udp_port_bound(port):
                time.sleep(0.2)  # bound, but let it finish its own setup
                return
            time.sleep(0.05)
        raise BenchError(f"{self.peer} did not bind UDP port {port} within {timeout}s")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cpu_ns(self):
        if not self.alive():
            raise BenchError(f"{self.peer} died; log: {self.tail()}")
        return cpu_ns(self.proc.pid)

    def vmhwm_kib(self):
        if not self.alive():
            raise BenchError(f"{self.peer} died; log: {self.tail()}")
        return vmhwm_kib(self.proc.pid)

    def tail(self, n=5):
        try:
            with open(self.log_path, errors="replace") as f:
                return " | ".join(f.read().splitlines()[-n:])
        except OSError:
            return "(no log)"

    def null_lines(self):
        """Lines the null server reports having received (its latest
        `progress` line; it prints one every 0.5 s while counts change)."""
        lines = 0
        try:
            with open(self.log_path) as f:
                for line in f:
                    if line.startswith("progress lines="):
                        lines = int(line.split()[1].split("=")[1])
        except (OSError, ValueError, IndexError):
            pass
        return lines

    def null_lines_settled(self, timeout=5.0):
        """The null server's count once it stopped changing (1.2 s steady)."""
        deadline = time.monotonic() + timeout
        last, since = self.null_lines(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = self.null_lines()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= 1.2:
                break
        return last

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self in LIVE:
            LIVE.remove(self)


# Servers currently running, stopped by stop_all() on any way out.
LIVE = []


def stop_all():
    for server in list(LIVE):
        try:
            server.stop()
        except Exception as e:  # keep stopping the others
            print(f"compare.py: stopping {server.peer}: {e}", file=sys.stderr)


class Peer:
    """How to start one kind of server. `style` is `graphite` (flushes
    etsy legacy names to {gport}) or `null` (counts only)."""

    def __init__(self, name, style, make_argv, cwd=None):
        self.name = name
        self.style = style
        self.make_argv = make_argv
        self.cwd = cwd

    def start(self, opts, workdir):
        os.makedirs(workdir, exist_ok=True)
        port, gport, mport = free_port(), free_port(), free_port()
        argv = self.make_argv(port=port, gport=gport, mport=mport, flush=opts.flush,
                              workdir=workdir)
        server = Server(self.name, argv, workdir, cwd=self.cwd)
        server.gport = gport
        server.start(port)
        return server


def fmt_seconds(s):
    return ("%f" % s).rstrip("0").rstrip(".")


def make_peers(opts):
    peers = {}

    def statkit_argv(port, gport, mport, flush, workdir, state="off"):
        return [opts.statkit, "serve", "--statsd", f"127.0.0.1:{port}",
                "--admin", f"127.0.0.1:{mport}", "--graphite", f"127.0.0.1:{gport}",
                "--flush-interval", fmt_seconds(flush), "--http", "off", "--state-dir", state]

    def statkit_state_argv(port, gport, mport, flush, workdir):
        return statkit_argv(port, gport, mport, flush, workdir, os.path.join(workdir, "state"))

    def etsy_argv(port, gport, mport, flush, workdir):
        config = os.path.join(workdir, "config.js")
        with open(config, "w") as f:
            f.write("{ port: %d, address: \"127.0.0.1\", mgmt_port: %d, "
                    "mgmt_address: \"127.0.0.1\", graphitePort: %d, "
                    "graphiteHost: \"127.0.0.1\", flushInterval: %d }\n"
                    % (port, mport, gport, round(flush * 1000)))
        return [opts.node, os.path.join(opts.etsy_dir, "stats.js"), config]

    def null_argv(port, gport, mport, flush, workdir):
        return [opts.statkit, "bench", "--null-server", f"127.0.0.1:{port}",
                "--null-time-limit", "3600"]

    peers["statkit"] = Peer("statkit", "graphite", statkit_argv)
    peers["statkit-state"] = Peer("statkit-state", "graphite", statkit_state_argv)
    peers["etsy"] = Peer("etsy", "graphite", etsy_argv)
    peers["null"] = Peer("null", "null", null_argv)

    for spec in opts.peer:
        name, sep, command = spec.partition("=")
        if not sep or not name or not command:
            raise SystemExit(f"--peer {spec!r}: expected NAME='command with {{port}} {{gport}} {{flush}}'")

        def custom_argv(port, gport, mport, flush, workdir, command=command):
            text = command.format(port=port, gport=gport, mport=mport, flush=fmt_seconds(flush),
                                  flush_ms=round(flush * 1000), workdir=workdir)
            # exec: the PID measured is the server's, not the shell's.
            return ["sh", "-c", "exec " + text]

        peers[name] = Peer(name, "graphite", custom_argv)
    return peers


# --------------------------------------------------------------------------
# Driving statkit bench


def run_bench(opts, args, timeout):
    argv = [opts.statkit, "bench"] + args + opts.bench_arg
    try:
        # run() kills the child on timeout and on KeyboardInterrupt.
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"statkit bench ran over {timeout:.0f}s: {' '.join(argv)}")
    if done.returncode != 0:
        raise BenchError(f"statkit bench failed ({done.returncode}): {done.stderr.strip()}")
    out = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        out[key] = value
    return out


def load(opts, server, peer, *, mix, names, prefix, lines, rate, single, time_limit):
    """One load against a running server: CPU before, bench (with the check
    for graphite peers), CPU after the flush that follows. Returns a dict."""
    args = ["--format", "kv", "--statsd", f"127.0.0.1:{server.port}", "--mix", mix, "--names", str(names),
            "--prefix", prefix, "-n", str(int(lines)), "--rate", str(int(rate)),
            "--time-limit", fmt_seconds(time_limit)]
    if single:
        args.append("--single")
    warmup = 2 * opts.flush + 1
    settle = 3 * opts.flush + 5
    if peer.style == "graphite":
        args += ["--check", "--graphite-listen", f"127.0.0.1:{server.gport}",
                 "--warmup-timeout", fmt_seconds(warmup),
                 "--settle-timeout", fmt_seconds(settle)]
    null_before = server.null_lines() if peer.style == "null" else 0
    drops_before = udp_rcvbuf_errors()
    cpu_before = server.cpu_ns()
    t0 = time.monotonic()
    result = run_bench(opts, args, timeout=time_limit + warmup + settle + 30)
    if peer.style == "null":
        received = server.null_lines_settled() - null_before
        sent = int(result.get("lines_total", "0"))
        result["loss_pct"] = "%.4f" % (100.0 * (sent - received) / sent if sent else 0.0)
        result["null_received"] = str(received)
    cpu_after = server.cpu_ns()
    drops_after = udp_rcvbuf_errors()
    sent = int(result.get("lines_total", "0"))
    figures = {
        "lines": sent,
        "rate": float(result.get("rate_lines_per_s", "0")),
        "lines_per_datagram": float(result.get("lines_per_datagram", "0")),
        "elapsed_s": float(result.get("elapsed_s", "0")),
        "wall_s": time.monotonic() - t0,
        "server_cpu_ns": cpu_after - cpu_before,
        "cpu_ns_per_line": (cpu_after - cpu_before) / sent if sent else None,
        "loss_pct": float(result.get("loss_pct", "nan")),
        "mismatches": int(result.get("mismatches", "0")),
        "complete": result.get("complete"),
        "rcvbuf_errors": (drops_after - drops_before)
        if drops_before is not None and drops_after is not None else None,
        "bench": result,
    }
    return figures


def idle_cpu_ns_per_s(opts, server):
    if opts.idle_seconds <= 0:
        return None
    before = server.cpu_ns()
    time.sleep(opts.idle_seconds)
    return (server.cpu_ns() - before) / opts.idle_seconds


# --------------------------------------------------------------------------
# Tests


def test_cpu(opts, peer, workdir, kind):
    if kind == "cpu_batch":
        spec = dict(mix=MIXED, names=1000, lines=opts.cpu_lines, rate=opts.cpu_rate, single=False)
    elif kind == "cpu_single":
        spec = dict(mix=MIXED, names=1000, lines=opts.single_lines, rate=opts.single_rate,
                    single=True)
    else:
        spec = dict(mix=COUNTERS, names=100, lines=opts.counters_lines,
                    rate=opts.counters_rate, single=False)
    server = peer.start(opts, workdir)
    try:
        idle = idle_cpu_ns_per_s(opts, server)
        time_limit = spec["lines"] / spec["rate"] * 1.5 + 5
        result = load(opts, server, peer, prefix="mix", time_limit=time_limit, **spec)
        result["idle_cpu_ns_per_s"] = idle
        if idle is not None and result["lines"]:
            busy = result["server_cpu_ns"] - idle * result["wall_s"]
            result["cpu_ns_per_line_minus_idle"] = busy / result["lines"]
        result["peak_rss_kib"] = server.vmhwm_kib()
        return result
    finally:
        server.stop()


def test_ladder(opts, peer, workdir, single):
    rates = opts.ladder_single if single else opts.ladder_batch
    server = peer.start(opts, workdir)
    steps = []
    try:
        for i, rate in enumerate(rates):
            secs = opts.step_seconds
            lines = opts.step_max_lines if rate == 0 else min(rate * secs, opts.step_max_lines)
            step = load(opts, server, peer, mix=COUNTERS, names=100, prefix=f"r{i:02d}",
                        lines=lines, rate=rate, single=single, time_limit=secs * 1.5 + 1)
            step["rate_target"] = rate
            steps.append(step)
            print(f"    {peer.name} step {i}: {rate or 'unlimited'} -> {step['rate']:.0f} lines/s, "
                  f"loss {step['loss_pct']:.3f}%, {fmt_int(step['cpu_ns_per_line'])} CPU-ns/line",
                  flush=True)
            time.sleep(opts.step_pause)
        return {"steps": steps, "max_loss_free": max_loss_free(steps)}
    finally:
        server.stop()


def max_loss_free(steps):
    """Highest achieved rate before the first step with loss >= threshold,
    and whether the whole ladder was loss-free (then it is a lower bound)."""
    best = None
    for step in steps:
        if not step["loss_pct"] < LOSS_THRESHOLD_PCT:  # NaN counts as loss
            return {"rate": best, "all_steps_clean": False}
        best = step["rate"] if best is None else max(best, step["rate"])
    return {"rate": best, "all_steps_clean": True}


def test_rss(opts, peer, workdir, counters_only):
    if peer.style == "null":
        return None
    if counters_only:
        mix, names = COUNTERS, opts.rss_names
    else:
        mix, names = "c=25,ms=25,g=25,s=25", opts.rss_names // 4
    server = peer.start(opts, workdir)
    try:
        result = load(opts, server, peer, mix=mix, names=names, prefix="rss",
                      lines=opts.rss_lines, rate=opts.rss_rate, single=False,
                      time_limit=opts.rss_lines / opts.rss_rate * 1.5 + 5)
        result["peak_rss_kib"] = server.vmhwm_kib()
        return result
    finally:
        server.stop()


def run_test(opts, peer, test, workdir):
    if test in ("cpu_batch", "cpu_single", "cpu_counters"):
        return test_cpu(opts, peer, workdir, test)
    if test in ("loss_batch", "loss_single"):
        return test_ladder(opts, peer, workdir, single=(test == "loss_single"))
    return test_rss(opts, peer, workdir, counters_only=(test == "rss_counters"))


# --------------------------------------------------------------------------
# Report


def best(rounds, key):
    values = [r[key] for r in rounds if r and r.get(key) is not None]
    return min(values) if values else None


def fmt_int(v):
    return "-" if v is None else f"{v:,.0f}"


def fmt_rate(mlf):
    if not mlf or mlf.get("rate") is None:
        return "none"
    text = fmt_rate_value(mlf["rate"])
    return (">= " + text) if mlf["all_steps_clean"] else text


def fmt_rate_value(v):
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    return f"{v / 1e3:.0f}k"


def fmt_loss(rounds):
    losses = [r["loss_pct"] for r in rounds if r and r.get("loss_pct") == r.get("loss_pct")]
    return "-" if not losses else "%.2f" % max(losses)


def render(results, peers_order):
    head = ("| peer | CPU-ns/line batched (loss %) | CPU-ns/line single (loss %) "
            "| CPU-ns/line counters @1.6M (loss %) | max loss-free rate batched (lines/s) "
            "| max loss-free rate single (datagrams/s) | peak RSS 100k names mixed / counters (MiB) |")
    lines = [head, "|" + "---|" * 7]
    for name in peers_order:
        r = results.get(name, {})

        def cpu(test):
            rounds = r.get(test) or []
            v = best(rounds, "cpu_ns_per_line")
            return "-" if v is None else f"{fmt_int(v)} ({fmt_loss(rounds)})"

        def ladder(test):
            rounds = r.get(test) or []
            return fmt_rate(rounds[0]["max_loss_free"]) if rounds and rounds[0] else "-"

        def rss(test):
            rounds = r.get(test) or []
            v = best(rounds, "peak_rss_kib")
            return "-" if v is None else f"{v / 1024:.0f}"

        lines.append(f"| {name} | {cpu('cpu_batch')} | {cpu('cpu_single')} | "
                     f"{cpu('cpu_counters')} | {ladder('loss_batch')} | {ladder('loss_single')} | "
                     f"{rss('rss')} / {rss('rss_counters')} |")
    ladders = []
    for name in peers_order:
        for test in ("loss_batch", "loss_single"):
            rounds = results.get(name, {}).get(test) or []
            if rounds and rounds[0]:
                steps = " / ".join(
                    f"{fmt_rate_value(s['rate'])}: {s['loss_pct']:.2f}%, "
                    f"{fmt_int(s['cpu_ns_per_line'])} ns"
                    for s in rounds[0]["steps"])
                ladders.append(f"| {name} | {test} | {steps} |")
    if ladders:
        lines += ["", "| peer | ladder | achieved rate: loss, server CPU-ns/line per step |",
                  "|---|---|---|"] + ladders
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Main


def parse_rates(text):
    return [int(float(x)) for x in text.split(",") if x.strip()]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--statkit", default=os.path.join(REPO, "target", "release", "statkit"),
                   help="the statkit binary (serve, bench and the null server)")
    p.add_argument("--peers", default=",".join(BUILTIN_PEERS),
                   help="built-in peers to run, comma separated (statkit, etsy, null; "
                        "also statkit-state: statkit with its state folder)")
    p.add_argument("--peer", action="append", default=[], metavar="NAME=COMMAND",
                   help="another server; COMMAND may use {port} (statsd UDP), {gport} "
                        "(Graphite TCP it must flush to, etsy legacy names), {flush} "
                        "(seconds), {flush_ms}, {mport} (a spare port), {workdir}")
    p.add_argument("--tests", default=",".join(ALL_TESTS), help="tests to run")
    p.add_argument("--rounds", type=int, default=1, help="repeat the CPU and RSS tests")
    p.add_argument("--quick", action="store_true",
                   help="small sizes and short ladders: a few minutes for three peers")
    p.add_argument("--flush", type=float, default=2.0, help="flush interval, seconds")
    p.add_argument("--cpu-lines", type=int, default=2_000_000)
    p.add_argument("--cpu-rate", type=int, default=50_000)
    p.add_argument("--single-lines", type=int, default=300_000)
    p.add_argument("--single-rate", type=int, default=10_000)
    p.add_argument("--counters-lines", type=int, default=4_800_000)
    p.add_argument("--counters-rate", type=int, default=1_600_000)
    p.add_argument("--ladder-batch", type=parse_rates,
                   default=parse_rates("50000,100000,200000,400000,800000,1600000,0"),
                   help="lines/s per step, 0 = unlimited")
    p.add_argument("--ladder-single", type=parse_rates,
                   default=parse_rates("10000,25000,50000,100000,200000,0"))
    p.add_argument("--step-seconds", type=float, default=3.0)
    p.add_argument("--step-max-lines", type=int, default=3_000_000)
    p.add_argument("--step-pause", type=float, default=1.0)
    p.add_argument("--rss-names", type=int, default=100_000)
    p.add_argument("--rss-lines", type=int, default=1_000_000)
    p.add_argument("--rss-rate", type=int, default=100_000)
    p.add_argument("--idle-seconds", type=float, default=None,
                   help="measure idle CPU this long before each CPU test (default: one flush)")
    p.add_argument("--node", default="node")
    p.add_argument("--etsy-dir", default=os.path.join(HERE, "peers", "node_modules", "statsd"))
    p.add_argument("--workdir", default=None, help="scratch dir (default bench/work/<time>)")
    p.add_argument("--out", default=None, help="JSON results (default <workdir>/results.json)")
    p.add_argument("--bench-arg", action="append", default=[],
                   help="extra argument for every statkit bench run (e.g. --bench-arg=--sendmmsg=8)")
    opts = p.parse_args(argv)
    if opts.quick:
        quick = dict(cpu_lines=250_000, single_lines=30_000, counters_lines=1_600_000,
                     step_seconds=1.0, step_max_lines=1_000_000, step_pause=0.5,
                     rss_lines=200_000, idle_seconds=0.0,
                     ladder_batch=parse_rates("50000,200000,800000,1600000,0"),
                     ladder_single=parse_rates("10000,50000,100000,0"))
        for key, value in quick.items():
            if p.get_default(key) == getattr(opts, key):
                setattr(opts, key, value)
    if opts.idle_seconds is None:
        opts.idle_seconds = opts.flush
    opts.rounds = max(1, min(opts.rounds, 20))
    if opts.flush <= 0:
        p.error("--flush must be positive")
    return opts


def main(argv):
    opts = parse_args(argv)
    peers = make_peers(opts)
    order = [n.strip() for n in opts.peers.split(",") if n.strip()]
    order += [spec.partition("=")[0] for spec in opts.peer if spec.partition("=")[0] not in order]
    unknown = [n for n in order if n not in peers]
    if unknown:
        raise SystemExit(f"unknown peers {unknown}; built in: {BUILTIN_PEERS + OPTIONAL_PEERS}, "
                         "or give --peer")
    tests = [t.strip() for t in opts.tests.split(",") if t.strip()]
    bad = [t for t in tests if t not in ALL_TESTS]
    if bad:
        raise SystemExit(f"unknown tests {bad}; known: {ALL_TESTS}")
    if not os.access(opts.statkit, os.X_OK):
        raise SystemExit(f"{opts.statkit} is not an executable: build it with "
                         "`cargo build --release` or pass --statkit")
    if "etsy" in order and not os.path.exists(os.path.join(opts.etsy_dir, "stats.js")):
        raise SystemExit(f"etsy statsd not found in {opts.etsy_dir}: run bench/install-peers.sh")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workdir = os.path.abspath(opts.workdir or os.path.join(HERE, "work", stamp))
    os.makedirs(workdir, exist_ok=True)
    out_path = opts.out or os.path.join(workdir, "results.json")

    results = {name: {} for name in order}
    errors = []
    for test in tests:
        rounds = 1 if test.startswith("loss") else opts.rounds
        for rnd in range(rounds):
            for name in order:  # peers interleaved within each round
                print(f"== {test} round {rnd + 1}/{rounds}: {name}", flush=True)
                try:
                    result = run_test(opts, peers[name], test,
                                      os.path.join(workdir, f"{test}-{name}-{rnd + 1}"))
                except BenchError as e:
                    print(f"   failed: {e}", flush=True)
                    errors.append({"peer": name, "test": test, "round": rnd + 1, "error": str(e)})
                    result = None
                results[name].setdefault(test, []).append(result)
                if result is None and not any(e["peer"] == name and e["test"] == test
                                              and e["round"] == rnd + 1 for e in errors):
                    print("   skipped: the null server keeps no series", flush=True)
                if result and "cpu_ns_per_line" in result:
                    print(f"   {fmt_int(result['cpu_ns_per_line'])} CPU-ns/line, "
                          f"{result['rate']:,.0f} lines/s, loss {result['loss_pct']:.3f}%, "
                          f"peak RSS {result.get('peak_rss_kib', 0) / 1024:.0f} MiB", flush=True)
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "argv": argv,
        "flush_s": opts.flush,
        "cpus": os.cpu_count(),
        "kernel": os.uname().release,
        "statkit": opts.statkit,
    }
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump({"meta": meta, "results": results, "errors": errors}, f, indent=1)
    print()
    print(render(results, order))
    print(f"\nraw results: {out_path}")
    if errors:
        print(f"{len(errors)} test(s) failed; see 'errors' in the JSON", file=sys.stderr)
    return 1 if errors else 0


def on_stop_signal(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    # Set both explicitly: a shell may start this script with SIGINT ignored.
    signal.signal(signal.SIGTERM, on_stop_signal)
    signal.signal(signal.SIGINT, on_stop_signal)
    try:
        code = main(sys.argv[1:])
    except KeyboardInterrupt:
        print("\ninterrupted: stopping servers", file=sys.stderr)
        code = 130
    finally:
        stop_all()
    sys.exit(code)
