#!/usr/bin/python3
"""The LDAP scenario of make bench (issue 4: "LDAP: >= 5,000 RCPT
decisions/s with the cache warm; cold, limited by the directory, with many
requests in flight"), also run alone with `sh bench/run ldap`:

  a real slapd on loopback (regress/lib/slapd.py: the AD look-alike
  schema, mdb, loaded offline with slapadd) holding BENCH_LDAP_USERS
  users (user<k>@example<1+k%3>.com, by mail and proxyAddresses), a
  gateway whose recipient table is `ldap:` in Active Directory mode
  (users, then distribution lists for an address no user has), then
  bench/rcptload.py over SMTP:
  (cold) every address user<k> and nouser<k> exactly once, shuffled, from
      PROCS x CONC pipelined sessions: each decision needs the directory
      (one search for a user, two for an unknown address: users, then
      groups); `smtpctl show tables` is sampled meanwhile for the
      searches in flight; slapd's and lookupd's CPU are read from /proc;
  (warm) BENCH_LDAP_WARM random RCPTs over the same addresses: every
      decision is a cache hit (positive or negative cache, TTLs 1 h).

Environment: BENCH_LDAP_USERS (10000), BENCH_LDAP_WARM (200000),
BENCH_LDAP_PROCS (2) x BENCH_LDAP_CONC (32 sessions each), BENCH_KEEP.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "regress", "lib"))

import slapd  # noqa: E402
from gateway import Gateway, write_file  # noqa: E402

USERS = int(os.environ.get("BENCH_LDAP_USERS", "10000"))
WARM = int(os.environ.get("BENCH_LDAP_WARM", "200000"))
PROCS = int(os.environ.get("BENCH_LDAP_PROCS", "2"))
CONC = int(os.environ.get("BENCH_LDAP_CONC", "32"))
KEEP = bool(os.environ.get("BENCH_KEEP"))
TICK = os.sysconf("SC_CLK_TCK")

OU_USERS = "ou=Users," + slapd.SUFFIX
OU_LISTS = "ou=Exchange Distribution Lists," + slapd.SUFFIX

CONF = """\
show-table-name no
smtp max-errors 4000000000
smtp max-sessions-per-client %(conc)d
table domains { example1.com, example2.com, example3.com }
table ad ldap:ad.conf
table trusted { 10.255.255.0/24 }
relay for <domains> recipients <ad>
relay from <trusted>
"""

AD_CONF = """\
server_host = %(url)s
bind_dn = %(binddn)s
bind_pw_file = ad.pw
search_base = %(users)s
active_directory = yes
group_search_base = %(lists)s
timeout = 10s
cache_ttl = 1h
negative_cache_ttl = 1h
cache_size = %(cache)d
"""


def say(*a):
    print("#", *a, flush=True)


def ldif(n):
    """n AD-like users and one distribution list."""
    out = ["dn: %s\nobjectClass: organizationalUnit\nou: Users\n\n" % OU_USERS,
           "dn: %s\nobjectClass: organizationalUnit\nou: Exchange "
           "Distribution Lists\n\n" % OU_LISTS]
    for k in range(n):
        a = "user%d@example%d.com" % (k, 1 + k % 3)
        out.append("dn: cn=user%d,%s\nobjectClass: user\ncn: user%d\n"
                   "sn: user%d\nuserAccountControl: 512\nmail: %s\n"
                   "proxyAddresses: SMTP:%s\n\n" % (k, OU_USERS, k, k, a, a))
    out.append("dn: cn=staff,%s\nobjectClass: group\ncn: staff\n"
               "mail: staff@example1.com\nmember: cn=user0,%s\n\n"
               % (OU_LISTS, OU_USERS))
    return "".join(out)


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])


def show_tables(gw):
    r = gw.ctl("show", "tables")
    return r.stdout if r.returncode == 0 else ""


class InFlight(threading.Thread):
    """Samples `smtpctl show tables` (inflight=N of the ldap table)."""

    def __init__(self, gw):
        super().__init__(daemon=True)
        self.gw = gw
        self.samples = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            m = re.search(r"inflight=(\d+)", show_tables(self.gw))
            if m:
                self.samples.append(int(m.group(1)))
            self.stop.wait(0.05)


def load(gw, sweep):
    """PROCS rcptload.py processes; returns (totals, seconds)."""
    t0 = time.monotonic()
    procs = []
    for p in range(PROCS):
        argv = [sys.executable, os.path.join(HERE, "rcptload.py"),
                gw.listen_addr, str(gw.port), str(WARM // PROCS), str(CONC),
                str(USERS), str(p + 1)]
        if sweep:
            argv.append("sweep:%d:%d" % (p, PROCS))
        procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE,
                                      text=True))
    tot = {}
    for p in procs:
        out, _ = p.communicate(timeout=1800)
        for f in out.split():
            k, v = f.split("=")
            if k != "seconds":
                tot[k] = tot.get(k, 0) + int(v)
    return tot, time.monotonic() - t0


def describe(tot, secs):
    n = tot["accepted"] + tot["rejected"] + tot["other"]
    return n / secs, ("%d RCPTs in %.1f s (%d accepted, %d rejected, %d "
                      "other, %d session errors)" % (
                          n, secs, tot["accepted"], tot["rejected"],
                          tot["other"], tot["errors"]))


def main():
    if not os.access(slapd.SLAPD, os.X_OK):
        print("ldap: skipped: %s not installed" % slapd.SLAPD)
        return 0
    # 10,000 users and their indexes outgrow the tests' 10 MB map
    slapd.CONF = slapd.CONF.replace("maxsize 10485760", "maxsize 1073741824")
    root = tempfile.mkdtemp(prefix="mxgate-bench-ldap-")
    os.chmod(root, 0o755)
    d = gw = None
    try:
        t0 = time.monotonic()
        d = slapd.Slapd(root, ldif(USERS))
        say("slapd: %d users loaded with slapadd in %.1f s" % (
            USERS, time.monotonic() - t0))
        d.start()
        gdir = os.path.join(root, "mxgate")
        os.makedirs(gdir)
        gw = Gateway(gdir, CONF % {"conc": PROCS * CONC + 10}, {})
        write_file(gw.path("ad.conf"), AD_CONF % {
            "url": d.url, "binddn": slapd.BIND_DN, "users": OU_USERS,
            "lists": OU_LISTS, "cache": 4 * USERS})
        write_file(gw.path("ad.pw"), slapd.BIND_PW + "\n", mode=0o600)
        gw.start(timeout=60)
        lpid = gw.status()["lookupd"]["pid"]
        spid = d.proc.pid

        probe = InFlight(gw)
        c0 = (cpu_ticks(spid), cpu_ticks(lpid))
        probe.start()
        tot, secs = load(gw, sweep=True)
        probe.stop.set()
        probe.join(10)
        c1 = (cpu_ticks(spid), cpu_ticks(lpid))
        rate, text = describe(tot, secs)
        fl = probe.samples or [0]
        busy = [(b - a) / TICK / secs for a, b in zip(c0, c1)]
        say("cold (every address once, %d x %d sessions): %.0f RCPT "
            "decisions/s; %s" % (PROCS, CONC, rate, text))
        say("cold: searches in flight (show tables, %d samples): max %d, "
            "mean %.1f; CPU while it ran: slapd %.2f, lookupd %.2f "
            "(1.00 = one core)" % (len(probe.samples), max(fl),
                                   sum(fl) / len(fl), busy[0], busy[1]))
        say("after cold: %s" % show_tables(gw).strip().replace("\n", " | "))

        c0 = (cpu_ticks(spid), cpu_ticks(lpid))
        tot, secs = load(gw, sweep=False)
        c1 = (cpu_ticks(spid), cpu_ticks(lpid))
        rate, text = describe(tot, secs)
        busy = [(b - a) / TICK / secs for a, b in zip(c0, c1)]
        say("warm (random over the same addresses, all cached): %.0f RCPT "
            "decisions/s; %s; CPU: slapd %.2f, lookupd %.2f" % (
                rate, text, busy[0], busy[1]))
        say("after warm: %s" % show_tables(gw).strip().replace("\n", " | "))
        say("machine load (1, 5, 15 min): %.2f %.2f %.2f" % os.getloadavg())
        gw.stop(check=False)
    finally:
        if gw is not None:
            gw.stop(check=False) if KEEP else gw.cleanup()
        if d is not None:
            d.cleanup()
        if KEEP:
            say("kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
