#!/usr/bin/python3
"""Profile mxgate under the bench loads with perf (linux-perf).

    sh bench/profile [accept|reject]...      (default: both)

Starts a counting sink and mxgate as bench.py does (same config, same
100,000-recipient table), runs the load under
`perf record -g -p <mxgate pids>` and prints `perf report` sorted by
process and symbol.  BENCH_MSGS (default here 2000) and
BENCH_REJECT_SESSIONS as for bench.py.
"""

import os
import subprocess
import sys
import tempfile
import shutil

os.environ.setdefault("BENCH_MSGS", "2000")
os.environ.setdefault("BENCH_IDLE", "0")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench  # noqa: E402


def perf(srv, what, fn, d):
    pids, _ = bench.tree_pids(srv.root)
    data = os.path.join(d, "perf-%s.data" % what)
    rec = subprocess.Popen(["perf", "record", "-q", "-F", "1999", "-g",
                            "-o", data, "-p", ",".join(map(str, pids))],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        fig = fn()
    finally:
        rec.send_signal(2)
        rec.wait(30)
    print("## %s: %r" % (what, fig), flush=True)
    for sort in ("comm,dso", "comm,sym"):
        r = subprocess.run(["perf", "report", "-i", data, "--no-children",
                            "--stdio", "-g", "none", "--percent-limit", "1",
                            "--sort", sort], capture_output=True, text=True)
        print("\n".join(line for line in r.stdout.splitlines()
                        if line.strip() and not line.startswith("#")))
        print(flush=True)


def main():
    what = sys.argv[1:] or ["accept", "reject"]
    d = tempfile.mkdtemp(prefix="mxgate-prof-", dir="/tmp")
    os.chmod(d, 0o755)
    bench._cleanups.insert(0, lambda: shutil.rmtree(d, ignore_errors=True))
    rcpt = "".join("%s OK\n" % a for a in bench.recipients(bench.N_RCPTS))
    sink = bench.CountingSink(d)
    srv = bench.MxgateServer(d, sink, rcpt)
    srv.start()
    if "accept" in what:
        perf(srv, "accept", lambda: bench.accept_and_relay(
            srv, sink, bench.N_MSGS, "p"), d)
    if "reject" in what:
        perf(srv, "reject", lambda: bench.reject_flood(
            srv, "p", bench.REJ_SESSIONS), d)
    srv.stop()
    sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
