#!/usr/bin/env python3
"""The receive floor, side by side: statkit's null server against a minimal
C receiver (`nullrecv.c`, from ../shared/bench/ by default), in one run.

Each round starts every receiver in turn (each round one place further
along, so each goes first in some round), sends the same load with `statkit bench` (batched mixed traffic by
default, as the issue-18 table: 2M lines at 50k lines/s, 1,000 names a
kind), and reads each receiver's CPU time: every thread's
/proc/PID/task/*/schedstat (nanoseconds) before the load and once its count
of lines has stopped growing. It prints CPU ns a line for each receiver,
the ratio statkit / nullrecv per round, and the best round of each.

    python3 bench/floor.py                      # target/release/statkit, 2 rounds
    python3 bench/floor.py --rounds 3 --lines 1000000
    python3 bench/floor.py --nullrecv /tmp/nullrecv   # an already built one
    python3 bench/floor.py --statkit new/statkit --null before=old/statkit

Loopback only; every wait has a deadline; every receiver started here is
stopped by its PID (SIGTERM), also on Ctrl-C. The machine's other load
moves the figures: compare ratios from one run, not figures across runs.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the harness's process and /proc helpers)


def task_cpu_ns(pid):
    """On-CPU nanoseconds of every live thread of `pid` (schedstat's first
    field), finer than utime+stime's clock ticks."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
    return total


def build_nullrecv(source, workdir):
    """Compiles nullrecv.c as its header says (gcc -O2)."""
    binary = os.path.join(workdir, "nullrecv")
    subprocess.run(["gcc", "-O2", "-Wall", "-o", binary, source], check=True, timeout=120)
    return binary


def receivers(opts, nullrecv):
    """(name, argv for a port) of each receiver: the null server of each
    statkit binary, then nullrecv."""
    def null_server(binary):
        return lambda port: [binary, "bench", "--null-server", f"127.0.0.1:{port}",
                             "--null-time-limit", "600"]
    found = [(name, null_server(binary)) for name, binary in opts.nulls]
    found.append(("nullrecv", lambda port: [nullrecv, "-p", str(port), "-m", opts.mode,
                                             "-T", "600"]))
    return found


def final_lines(server):
    """The `lines N` a receiver prints when it stops."""
    with open(server.log_path, errors="replace") as f:
        for line in f:
            if line.startswith("lines "):
                return int(line.split()[1])
    return None


def settle(pid, timeout=10.0):
    """Waits until the receiver's CPU time stops growing (0.5 s steady):
    what was sent is in, as far as a receiver that prints nothing tells."""
    deadline = time.monotonic() + timeout
    last, since = task_cpu_ns(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = task_cpu_ns(pid)
        if now - last > 1_000_000:  # more than 1 ms: still receiving
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= 0.5:
            break
    return task_cpu_ns(pid)


def measure(opts, name, make_argv, workdir):
    os.makedirs(workdir, exist_ok=True)
    port = compare.free_port()
    server = compare.Server(name, make_argv(port), workdir)
    server.start(port)
    try:
        before = task_cpu_ns(server.proc.pid)
        args = ["--format", "kv", "--statsd", f"127.0.0.1:{port}", "--mix", opts.mix,
                "--names", str(opts.names), "--prefix", "floor", "-n", str(opts.lines),
                "--rate", str(opts.rate),
                "--time-limit", compare.fmt_seconds(opts.lines / opts.rate * 1.5 + 5)]
        result = compare.run_bench(opts, args, timeout=opts.lines / opts.rate * 1.5 + 60)
        after = settle(server.proc.pid)
    finally:
        server.stop()
    sent = int(result.get("lines_total", "0"))
    received = final_lines(server)
    return {
        "sent": sent,
        "received": received,
        "ns_per_line": (after - before) / sent if sent else None,
        "lines_per_datagram": float(result.get("lines_per_datagram", "0")),
    }


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--statkit", default=os.path.join(compare.REPO, "target", "release", "statkit"),
                   help="the statkit binary (its null server and bench)")
    p.add_argument("--null", action="append", default=[], metavar="NAME=STATKIT",
                   help="also the null server of another statkit binary (repeatable: "
                        "a build before and after a change, side by side)")
    p.add_argument("--nullrecv", help="a built nullrecv (default: build --nullrecv-source)")
    p.add_argument("--nullrecv-source",
                   default=os.path.join(compare.REPO, "..", "shared", "bench", "nullrecv.c"))
    p.add_argument("--mode", default="recvmmsg", choices=["recvmmsg", "recvfrom"],
                   help="nullrecv's receive call (statkit's null server uses recvmmsg)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--lines", type=int, default=2_000_000)
    p.add_argument("--rate", type=int, default=50_000)
    p.add_argument("--names", type=int, default=1000)
    p.add_argument("--mix", default=compare.MIXED)
    opts = p.parse_args(argv)
    # Receivers run in a scratch folder: paths must not be relative.
    opts.statkit = os.path.abspath(opts.statkit)
    opts.nullrecv = opts.nullrecv and os.path.abspath(opts.nullrecv)
    opts.nulls = [("statkit-null", opts.statkit)]
    for spec in opts.null:
        name, sep, binary = spec.partition("=")
        if not sep or not name or name in ("nullrecv", "statkit-null"):
            raise SystemExit(f"--null {spec!r}: expected NAME=PATH with a new NAME")
        opts.nulls.append((name, os.path.abspath(binary)))
    opts.bench_arg = []  # compare.run_bench's extra `statkit bench` arguments
    return opts


def main(argv):
    opts = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="statkit-floor-") as workdir:
        nullrecv = opts.nullrecv or build_nullrecv(opts.nullrecv_source, workdir)
        order = receivers(opts, nullrecv)
        rounds = []
        for r in range(opts.rounds):
            figures = {}
            # Each round starts one place further: every receiver goes first once.
            shift = r % len(order)
            for name, make_argv in order[shift:] + order[:shift]:
                figures[name] = measure(opts, name, make_argv, os.path.join(workdir, f"{name}-{r}"))
                f = figures[name]
                print(f"round {r + 1} {name}: {f['ns_per_line']:.1f} CPU ns/line, "
                      f"{f['received']}/{f['sent']} lines, "
                      f"{f['lines_per_datagram']:.1f} lines/datagram", flush=True)
            for name, _ in opts.nulls:
                ratio = figures[name]["ns_per_line"] / figures["nullrecv"]["ns_per_line"]
                print(f"round {r + 1} {name} / nullrecv: {ratio:.2f}", flush=True)
            rounds.append(figures)
        best = {name: min(r[name]["ns_per_line"] for r in rounds) for name, _ in order}
        for name, _ in opts.nulls:
            print(f"best: {name} {best[name]:.1f}, nullrecv {best['nullrecv']:.1f} "
                  f"CPU ns/line; ratio {best[name] / best['nullrecv']:.2f}")
    return 0


def on_stop_signal(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_stop_signal)
    signal.signal(signal.SIGINT, on_stop_signal)
    try:
        code = main(sys.argv[1:])
    except KeyboardInterrupt:
        print("\ninterrupted: stopping receivers", file=sys.stderr)
        code = 130
    finally:
        compare.stop_all()
    sys.exit(code)
