#!/usr/bin/python3
"""The lookups scenario of make bench (issue 4's scale figures), also run
alone with `sh bench/run lookups`:

  1,000,000 recipients "user<i>@example<1+i%3>.com OK" compiled with
  `smtpctl makemap`, then
  (a) lookups/s inside lookupd's cdb backend (bench/lookups_bench: the
      table API lka uses, random keys, half missing);
  (b) RCPT decisions/s through a real gateway over SMTP
      (bench/rcptload.py, pipelined, half unknown users);
  (c) lookupd's memory: Pss from /proc/PID/smaps_rollup;
  (d) the table replaced (makemap again, one more entry) while a client
      sends one RCPT after another: worst and p99 reply latency before,
      while makemap runs, and around the swap.

Environment: BENCH_LOOKUP_ENTRIES (1000000), BENCH_LOOKUP_N (4000000
lookups per run of (a)), BENCH_LOOKUP_RUNS (3 runs of (a)), BENCH_LOOKUP_RCPTS (200000 in (b)), BENCH_LOOKUP_PROCS
(2 rcptload processes) x BENCH_LOOKUP_CONC (8 sessions each),
BENCH_KEEP (keep the temp dir).
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "regress", "lib"))

from gateway import Gateway  # noqa: E402
from smtp import expect  # noqa: E402

ENTRIES = int(os.environ.get("BENCH_LOOKUP_ENTRIES", "1000000"))
N_LOOKUPS = int(os.environ.get("BENCH_LOOKUP_N", "4000000"))
N_RCPTS = int(os.environ.get("BENCH_LOOKUP_RCPTS", "200000"))
PROCS = int(os.environ.get("BENCH_LOOKUP_PROCS", "2"))
CONC = int(os.environ.get("BENCH_LOOKUP_CONC", "8"))
RUNS_A = int(os.environ.get("BENCH_LOOKUP_RUNS", "3"))
KEEP = bool(os.environ.get("BENCH_KEEP"))
SMTPCTL = os.path.join(REPO, "smtpctl", "smtpctl")
BASELINE_S = 5.0

CONF = """\
show-table-name no
smtp max-errors 4000000000
table domains { example1.com, example2.com, example3.com }
table recipients cdb:relay_recipients.cdb
table trusted { 10.255.255.0/24 }
relay for <domains> recipients <recipients>
relay from <trusted>
"""


def say(*a):
    print("#", *a, flush=True)


def write_source(path, extra=""):
    with open(path, "w") as f:
        for i in range(ENTRIES):
            f.write("user%d@example%d.com OK\n" % (i, 1 + i % 3))
        f.write(extra)


def makemap(src):
    t0 = time.monotonic()
    r = subprocess.run([SMTPCTL, "makemap", src], capture_output=True,
                       text=True)
    if r.returncode != 0:
        sys.exit("makemap: %s" % r.stderr.strip())
    return time.monotonic() - t0


def in_backend(cdb):
    """(a): bench/lookups_bench RUNS_A times (the machine is shared: the
    median is the figure, min and max say how noisy it was)."""
    runs = []
    for i in range(RUNS_A):
        swap = []
        if i == 0:      # and the swap, timed in the first run
            swap = [cdb + ".copy1", cdb + ".copy2"]
            for c in swap:
                shutil.copyfile(cdb, c)
        r = subprocess.run([os.path.join(HERE, "lookups_bench"), cdb,
                            str(ENTRIES), str(N_LOOKUPS)] + swap,
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("lookups_bench: %s%s" % (r.stdout, r.stderr))
        runs.append(dict(f.split("=", 1) for f in r.stdout.split()))
    first = runs[0]
    runs.sort(key=lambda f: float(f["lookups_per_s"]))
    med = dict(runs[len(runs) // 2])
    for k in ("swap_now_ms", "swap_sliced_ms", "ticks", "worst_tick_ms"):
        med[k] = first[k]
    med["min"] = runs[0]["lookups_per_s"]
    med["max"] = runs[-1]["lookups_per_s"]
    return med


def rcpt_load(gw):
    """(b): RCPT replies/s over SMTP from PROCS x CONC sessions."""
    per = N_RCPTS // PROCS
    t0 = time.monotonic()
    procs = [subprocess.Popen([sys.executable,
                               os.path.join(HERE, "rcptload.py"),
                               gw.listen_addr, str(gw.port), str(per),
                               str(CONC), str(ENTRIES), str(seed)],
                              stdout=subprocess.PIPE, text=True)
             for seed in range(1, PROCS + 1)]
    tot = {}
    for p in procs:
        out, _ = p.communicate(timeout=1800)
        for f in out.split():
            k, v = f.split("=")
            if k != "seconds":
                tot[k] = tot.get(k, 0) + int(v)
    secs = time.monotonic() - t0
    answered = tot["accepted"] + tot["rejected"] + tot["other"]
    return tot, secs, answered / secs


def pss(pid):
    """(c): {field: KiB} of /proc/PID/smaps_rollup."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            w = line.split()
            if w[0] in ("Rss:", "Pss:", "Pss_Anon:", "Pss_File:"):
                out[w[0][:-1]] = int(w[1])
    return out


class Probe(threading.Thread):
    """One RCPT after another on one session; (time, latency) of each."""

    def __init__(self, gw):
        super().__init__(daemon=True)
        self.gw = gw
        self.samples = []
        self.stop = threading.Event()
        self.bad = []

    def run(self):
        with self.gw.client() as c:
            expect(c.banner(), 220)
            expect(c.cmd("EHLO probe.bench.example"), 250)
            expect(c.cmd("MAIL FROM:<probe@bench.example>"), 250)
            i = 0
            while not self.stop.is_set():
                k = (i * 7919) % ENTRIES
                t0 = time.monotonic()
                r = c.cmd("RCPT TO:<user%d@example%d.com>" % (k, 1 + k % 3))
                t1 = time.monotonic()
                self.samples.append((t0, t1 - t0))
                if r.code != 250:
                    self.bad.append(r.last)
                i += 1
                if i % 500 == 0:
                    expect(c.cmd("RSET"), 250)
                    expect(c.cmd("MAIL FROM:<probe@bench.example>"), 250)
            c.cmd("QUIT")


def window(samples, a, b):
    lat = sorted(l for t, l in samples if a <= t < b)
    if not lat:
        return "no samples"
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return "%d RCPTs, median %.2f ms, p99 %.2f ms, worst %.2f ms" % (
        len(lat), statistics.median(lat) * 1e3, p99 * 1e3, lat[-1] * 1e3)


def reload_under_load(gw, src):
    """(d): makemap again while the probe runs."""
    probe = Probe(gw)
    probe.start()
    time.sleep(BASELINE_S)
    t_mm = time.monotonic()
    mark = gw.mark()
    write_source(src, "reloadcheck@example1.com OK\n")
    t_written = time.monotonic()
    mm = makemap(src)
    t_renamed = time.monotonic()
    gw.wait_log(r"table recipients: reloaded %d entries" % (ENTRIES + 1),
                30, since=mark)
    t_seen = time.monotonic()
    time.sleep(1.0)
    probe.stop.set()
    probe.join(30)
    s = probe.samples
    return {
        "before (%.0f s, no change)" % BASELINE_S:
            window(s, s[0][0], t_mm),
        "writing the new source (%.1f s)" % (t_written - t_mm):
            window(s, t_mm, t_written),
        "makemap running (%.1f s)" % mm: window(s, t_written, t_renamed),
        "rename -> swapped, +1 s (%.1f s)" % (t_seen + 1 - t_renamed):
            window(s, t_renamed, t_seen + 1.0),
    }, probe.bad


def main():
    for p in (SMTPCTL, os.path.join(HERE, "lookups_bench")):
        if not os.access(p, os.X_OK):
            sys.exit("%s missing: make all bench/lookups_bench" % p)
    root = tempfile.mkdtemp(prefix="mxgate-bench-lookups-")
    os.chmod(root, 0o755)         # lookupd rereads the table as _mxgate
    gw = None
    try:
        d = os.path.join(root, "mxgate")
        os.makedirs(d)
        src = os.path.join(d, "relay_recipients")
        t0 = time.monotonic()
        write_source(src)
        say("source: %d entries, %.1f MB, written in %.1f s" % (
            ENTRIES, os.path.getsize(src) / 1e6, time.monotonic() - t0))
        mm = makemap(src)
        cdb = src + ".cdb"
        say("makemap: %.1f s, %s.cdb %.1f MB" % (
            mm, os.path.basename(src), os.path.getsize(cdb) / 1e6))

        a = in_backend(cdb)
        say("(a) inside lookupd's cdb backend: %s lookups/s, median of %d "
            "runs (min %s, max %s; %s ns each; %s lookups per run, half "
            "missing, %s wrong); table_open %s ms; tinycdb's cdb_find alone "
            "on the same keys in that run: %s/s" % (
                a["lookups_per_s"], RUNS_A, a["min"], a["max"],
                a["ns_per_lookup"], a["lookups"], a["wrong"], a["open_ms"],
                a["raw_lookups_per_s"]))
        say("(a) the swap of a one-table reload, every page mapped: old "
            "mapping released at once %s ms; released a slice per tick as "
            "lookupd does: %s ms, then %s ticks of at most %s ms CPU" % (
                a["swap_now_ms"], a["swap_sliced_ms"], a["ticks"],
                a["worst_tick_ms"]))

        gw = Gateway(d, CONF, {})
        gw.start(timeout=120)
        lpid = gw.status()["lookupd"]["pid"]
        m0 = pss(lpid)
        tot, secs, rate = rcpt_load(gw)
        say("(b) RCPT decisions over SMTP: %.0f/s (%d in %.1f s from %d x "
            "%d sessions; %d accepted, %d rejected, %d other, %d session "
            "errors)" % (rate, sum(tot[k] for k in ("accepted", "rejected",
                                                      "other")),
                         secs, PROCS, CONC, tot["accepted"],
                         tot["rejected"], tot["other"], tot["errors"]))
        m1 = pss(lpid)
        say("(c) lookupd memory, KiB: after start %s; after (b) %s" % (
            " ".join("%s=%d" % kv for kv in m0.items()),
            " ".join("%s=%d" % kv for kv in m1.items())))

        windows, bad = reload_under_load(gw, src)
        say("(d) RCPT latency while the table is replaced:")
        for k, v in windows.items():
            say("    %-36s %s" % (k, v))
        if bad:
            say("    NOT ACCEPTED during the reload: %d, e.g. %s"
                % (len(bad), bad[0]))
        with gw.client() as c:
            expect(c.banner(), 220)
            expect(c.cmd("EHLO check.bench.example"), 250)
            expect(c.cmd("MAIL FROM:<>"), 250)
            r = c.cmd("RCPT TO:<reloadcheck@example1.com>")
            say("    the new entry after the swap: %s" % r.last)
        r = gw.ctl("show", "tables")
        say("show tables: %s" % r.stdout.strip().replace("\n", " | "))
        gw.stop(check=False)
    finally:
        if gw is not None:
            if KEEP:
                gw.stop(check=False)
            else:
                gw.cleanup()
        if KEEP:
            say("kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
