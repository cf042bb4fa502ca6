#!/usr/bin/env python3
"""How long statkit's readers take over a folder of hostile files.

Makes a temporary folder with N files of each kind a local user can plant
in a shared stats folder: FIFOs and symbolic links named like stats files,
sparse 1 GiB mmstats files, and statkit files of random bytes; then times
`statkit slurp` over it (wall, user and system CPU, peak RSS) a few rounds,
and removes the folder.

    python3 bench/hostile_folder.py [--count 1000] [--rounds 3] [--statkit target/release/statkit]
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def plant(folder: str, count: int) -> None:
    for i in range(count):
        os.mkfifo(os.path.join(folder, f"fifo-{i}.statkit"))
        os.symlink("/etc/passwd", os.path.join(folder, f"link-{i}.statkit"))
        with open(os.path.join(folder, f"big-{i}.mmstats"), "wb") as f:
            f.truncate(1 << 30)
        with open(os.path.join(folder, f"junk-{i}.statkit"), "wb") as f:
            f.write(b"STATKIT\0" + os.urandom(4096))


def one_round(statkit: str, folder: str) -> tuple[float, float, float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run([statkit, "slurp", folder], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=600, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime,
            after.ru_maxrss)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=1000, help="files of each kind")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--statkit", default=os.path.join(REPO, "target", "release", "statkit"))
    opts = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="statkit-hostile-") as folder:
        plant(folder, opts.count)
        print(f"{4 * opts.count} hostile files in {folder}")
        for r in range(opts.rounds):
            wall, user, system, rss = one_round(opts.statkit, folder)
            print(f"round {r + 1}: {wall * 1000:.0f} ms wall, {user * 1000:.0f} ms user, "
                  f"{system * 1000:.0f} ms system, peak RSS {rss} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
