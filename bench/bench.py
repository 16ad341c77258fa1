#!/usr/bin/python3
"""mxgate against a private Postfix, same machine, same load, same run.

Run by bench/run (make bench).  See bench/README.md for what is measured
and the environment variables.  Everything lives in one temp dir under
/tmp which is removed at the end; every server is stopped by PID.
"""

import atexit
import datetime
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "regress", "lib"))

from gateway import Gateway  # noqa: E402
from sink import free_port  # noqa: E402

N_MSGS = int(os.environ.get("BENCH_MSGS", "5000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "20"))
N_RCPTS = int(os.environ.get("BENCH_RECIPIENTS", "100000"))
REJ_SESSIONS = int(os.environ.get("BENCH_REJECT_SESSIONS", "2000"))
IDLE = int(os.environ.get("BENCH_IDLE", "2000"))
MSG_LEN = 4096
E2E_TIMEOUT = float(os.environ.get("BENCH_E2E_TIMEOUT", "600"))
SERVERS = os.environ.get("BENCH_SERVERS",
                         "mxgate,postfix,opensmtpd").split(",")
# OpenSMTPD 6.8 walks its whole 100,000-entry recipient table for every
# RCPT (~15 ms of CPU here, see NOTES.md): it gets fewer messages and
# reject sessions so that the run stays under 15 minutes; its rates are
# rates all the same.
OSMTPD_MSGS = int(os.environ.get("BENCH_OPENSMTPD_MSGS",
                                 str(min(N_MSGS, 500))))
OSMTPD_REJ = int(os.environ.get("BENCH_OPENSMTPD_REJECT_SESSIONS",
                                str(min(REJ_SESSIONS, 100))))
KEEP = bool(os.environ.get("BENCH_KEEP"))

DOMAINS = ("example1.com", "example2.com", "subdomain.example.com")
# the load comes from 127.0.0.1; "trusted"/mynetworks is elsewhere
TRUSTED = "10.255.255.0/24"
TICK = os.sysconf("SC_CLK_TCK")

_cleanups = []


def cleanup_all():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:  # keep cleaning
            print("# cleanup: %s" % e, file=sys.stderr)


atexit.register(cleanup_all)


def on_signal(sig, frame):
    cleanup_all()
    sys.exit(130)


signal.signal(signal.SIGINT, on_signal)
signal.signal(signal.SIGTERM, on_signal)


def say(*a):
    print("#", *a, flush=True)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    return st[st.rfind(")") + 2:].split()[0] not in ("Z", "X")


def kill_pid(pid, timeout=10.0):
    if not pid_alive(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


# ------------------------------------------------------------ /proc helpers

def proc_table():
    """{pid: (ppid, utime+stime+cutime+cstime in ticks)}"""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(")") + 2:].split()
        # rest[0]=state, [1]=ppid, [11..14]=utime stime cutime cstime
        out[int(d)] = (int(rest[1]), sum(int(x) for x in rest[11:15]))
    return out


def tree_pids(root):
    tab = proc_table()
    kids = {}
    for pid, (ppid, _) in tab.items():
        kids.setdefault(ppid, []).append(pid)
    seen, todo = [], [root]
    while todo:
        p = todo.pop()
        if p in tab:
            seen.append(p)
            todo.extend(kids.get(p, []))
    return seen, tab


def tree_cpu_ms(root):
    """CPU of root's process tree in ms: live processes' own time plus
    what their reaped children left in cutime/cstime."""
    pids, tab = tree_pids(root)
    return sum(tab[p][1] for p in pids) * 1000.0 / TICK


def tree_pss_kib(root):
    pids, _ = tree_pids(root)
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


# ------------------------------------------------------------------ sink

class CountingSink:
    """Postfix's smtp-sink -c; the count is the last "mesg=N" it printed."""

    def __init__(self, d):
        self.port = free_port("127.0.0.1")
        self.out = os.path.join(d, "sink.out")
        f = open(self.out, "wb")
        self.proc = subprocess.Popen(
            ["smtp-sink", "-u", "postfix", "-c",
             "127.0.0.1:%d" % self.port, "1024"],
            stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        f.close()
        _cleanups.append(self.stop)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.2)

    def count(self):
        try:
            with open(self.out, "rb") as f:
                f.seek(max(0, os.path.getsize(self.out) - 200))
                tail = f.read()
        except OSError:
            return 0
        m = re.findall(rb"mesg=(\d+)", tail)
        return int(m[-1]) if m else 0

    def stop(self):
        if self.proc.poll() is None:
            kill_pid(self.proc.pid)
            self.proc.wait(5)


# ------------------------------------------------------------------ tables

def recipients(n):
    return ["user%d@%s" % (i, DOMAINS[i % 3]) for i in range(n)]


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


VIRTUAL = ("alias1@example1.com  user1@example2.com\n"
           "alias2@example2.com  user2@subdomain.example.com\n"
           "list@example1.com    user3@example1.com, user4@example2.com,\n"
           "                     user5@subdomain.example.com\n")


def transport(sinkport):
    return "".join("%s  smtp:[127.0.0.1]:%d\n" % (d, sinkport)
                   for d in DOMAINS)


# ----------------------------------------------------------------- servers

class MxgateServer:
    name = "mxgate"

    def __init__(self, root, sink, rcpt_text):
        d = os.path.join(root, "mxgate")
        os.makedirs(d)
        conf = ("max-message-size 35M\n"
                "max-recipients 1000\n"
                "show-table-name no\n"
                "smtp max-sessions %d\n"
                "smtp max-sessions-per-client %d\n"
                "table domains { %s }\n"
                "table recipients file:relay_recipients\n"
                "table aliases file:virtual\n"
                "table transport file:transport\n"
                "table trusted { %s }\n"
                "relay for <domains> recipients <recipients> "
                "aliases <aliases> via <transport>\n"
                "relay from <trusted> via <transport>\n"
                % (max(10000, IDLE + 100), max(1000, IDLE + 100),
                   ", ".join(DOMAINS), TRUSTED))
        self.gw = Gateway(d, conf, {"relay_recipients": rcpt_text,
                                    "virtual": VIRTUAL,
                                    "transport": transport(sink.port)})
        self.port = self.gw.port
        self.commands = ["%s/smtpd/smtpd -d -f %s -B %s"
                         % (REPO, self.gw.conf, REPO)]

    def start(self):
        self.gw.start(timeout=120)
        _cleanups.append(self.stop)
        self.root = self.gw.proc.pid

    def stop(self):
        if KEEP:
            self.gw.stop(check=False)
        else:
            self.gw.cleanup()


MASTER_CF = """\
127.0.0.1:%(port)d inet n - n - - smtpd
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = %(q)s
data_directory = %(data)s
maillog_file_prefixes = %(data)s
maillog_file = %(data)s/maillog
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.bench.example
mydomain = example.com
myorigin = example.com
mydestination =
local_recipient_maps =
local_transport = error:local delivery is disabled
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = %(trusted)s
relay_domains = %(domains)s
relay_recipient_maps = hash:%(etc)s/relay_recipients
virtual_alias_maps = hash:%(etc)s/virtual
transport_maps = hash:%(etc)s/transport
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
message_size_limit = 36700160
smtpd_recipient_limit = 1000
show_user_unknown_table_name = no
biff = no
smtputf8_enable = no
smtpd_tls_security_level = none
smtp_tls_security_level = none
# raised for the benchmark so that the load is not capped by defaults
default_process_limit = %(plimit)d
smtpd_client_connection_count_limit = %(climit)d
smtpd_client_connection_rate_limit = 0
"""


class PostfixServer:
    name = "postfix"

    def __init__(self, root, sink, rcpt_text):
        self.d = os.path.join(root, "postfix")
        self.etc = os.path.join(self.d, "etc")
        self.q = os.path.join(self.d, "queue")
        self.data = os.path.join(self.d, "data")
        for x in (self.etc, self.q, self.data):
            os.makedirs(x)
        os.chmod(self.d, 0o755)
        pw = __import__("pwd").getpwnam("postfix")
        os.chown(self.data, pw.pw_uid, pw.pw_gid)
        self.port = free_port("127.0.0.1")
        self.plimit = max(200, 2 * CLIENTS + 50, IDLE + 100)
        self.climit = max(1000, IDLE + 100)
        write(os.path.join(self.etc, "main.cf"), MAIN_CF % {
            "q": self.q, "data": self.data, "etc": self.etc,
            "trusted": TRUSTED, "domains": ", ".join(DOMAINS),
            "plimit": self.plimit, "climit": self.climit})
        write(os.path.join(self.etc, "master.cf"),
              MASTER_CF % {"port": self.port})
        write(os.path.join(self.etc, "relay_recipients"), rcpt_text)
        write(os.path.join(self.etc, "virtual"), VIRTUAL)
        write(os.path.join(self.etc, "transport"), transport(sink.port))
        for t in ("relay_recipients", "virtual", "transport"):
            self.run(["postmap", "-c", self.etc,
                      "hash:" + os.path.join(self.etc, t)])
        self.commands = ["postfix -c %s start" % self.etc,
                         "(default_process_limit=%d, "
                         "smtpd_client_connection_count_limit=%d, "
                         "smtpd_client_connection_rate_limit=0)"
                         % (self.plimit, self.climit)]
        self.root = None

    def run(self, argv):
        r = subprocess.run(argv, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError("%s: exit %d: %s" % (" ".join(argv),
                               r.returncode, r.stderr.strip()))
        return r

    def start(self):
        self.run(["postfix", "-c", self.etc, "start"])
        _cleanups.append(self.stop)
        pidfile = os.path.join(self.q, "pid", "master.pid")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with open(pidfile) as f:
                    self.root = int(f.read().strip())
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                break
            except (OSError, ValueError):
                time.sleep(0.1)
        else:
            raise RuntimeError("postfix did not come up")

    def stop(self):
        if self.root is None:
            return
        subprocess.run(["postfix", "-c", self.etc, "stop"],
                       capture_output=True, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while pid_alive(self.root) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(self.root):
            pids, _ = tree_pids(self.root)
            for p in pids:
                kill_pid(p, 2)
        self.root = None


class Skip(Exception):
    pass


class OpenSMTPDServer:
    """Debian's opensmtpd package, extracted (apt-get download + dpkg -x)
    into the bench dir, run in a private mount namespace (unshare -m)
    where the bench dir's own directories are bind-mounted over /var/spool,
    /run and /var/lib (its spool, control socket and chroot paths are
    compiled in).  Runs as opensmtpd/opensmtpq: created if missing and
    removed again at the end."""
    name = "opensmtpd"

    def __init__(self, root, sink, rcpt_text):
        self.d = os.path.join(root, "opensmtpd")
        os.makedirs(self.d)
        os.chmod(self.d, 0o755)
        self.root = None
        self.proc = None
        for tool in ("apt-get", "dpkg", "unshare", "useradd"):
            if shutil.which(tool) is None:
                raise Skip("%s not found" % tool)
        r = subprocess.run(["apt-get", "download", "opensmtpd"], cwd=self.d,
                           capture_output=True, text=True, timeout=180,
                           stdin=subprocess.DEVNULL)
        debs = [f for f in os.listdir(self.d) if f.endswith(".deb")]
        if r.returncode != 0 or not debs:
            raise Skip("apt-get download opensmtpd failed: %s"
                       % (r.stderr.strip().splitlines() or ["?"])[-1])
        x = os.path.join(self.d, "x")
        r = subprocess.run(["dpkg", "-x", os.path.join(self.d, debs[0]), x],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise Skip("dpkg -x failed: %s" % r.stderr.strip())
        self.smtpd = os.path.join(x, "usr", "sbin", "smtpd")
        self.version = debs[0]
        self.made_users = []
        import pwd
        for u, home in (("opensmtpd", "/var/lib/opensmtpd"),
                        ("opensmtpq", "/var/spool/smtpd")):
            try:
                pwd.getpwnam(u)
            except KeyError:
                r = subprocess.run(["useradd", "--system", "--no-create-home",
                                    "--home-dir", home, "--shell",
                                    "/usr/sbin/nologin", u],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    raise Skip("useradd %s: %s" % (u, r.stderr.strip()))
                self.made_users.append(u)
                _cleanups.append(lambda u=u: subprocess.run(
                    ["userdel", u], capture_output=True))
        self.ns = os.path.join(self.d, "ns")
        for sub in ("spool", "run", "varlib/opensmtpd/empty"):
            os.makedirs(os.path.join(self.ns, sub), exist_ok=True)
        for dp, dn, _ in os.walk(self.ns):
            os.chmod(dp, 0o755)
        # the VM's resolver may not answer: no lookup may wait for it
        write(os.path.join(self.ns, "resolv.conf"),
              "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        # A list table, as OpenSMTPD's docs use for `rcpt-to`.  Note: 6.8
        # matches an address against a table (rcpt-to <t>, K_MAILADDR) by
        # walking every entry, file: and db: alike (table_static.c,
        # table_db.c); with 100,000 entries that walk is its cost per RCPT
        # (~15 ms of its lookup process's CPU here; a db: table is twice
        # that).  That is OpenSMTPD's own behaviour in this configuration
        # and stays in the figures.
        rc = os.path.join(self.d, "recipients")
        write(rc, "".join(line.split()[0] + "\n"
                          for line in rcpt_text.splitlines() if line))
        self.port = free_port("127.0.0.1")
        self.conf = os.path.join(self.d, "smtpd.conf")
        write(self.conf,
              "smtp max-message-size 35M\n"
              "table domains { %s }\n"
              "table recipients file:%s\n"
              "listen on 127.0.0.1 port %d hostname mx.bench.example\n"
              "action \"relay\" relay host \"smtp://127.0.0.1:%d\"\n"
              "match from any for domain <domains> rcpt-to <recipients> "
              "action \"relay\"\n"
              % (", ".join(DOMAINS), rc, self.port, sink.port))
        r = subprocess.run([self.smtpd, "-n", "-f", self.conf],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise Skip("smtpd -n: %s" % (r.stderr or r.stdout).strip())
        self.log = os.path.join(self.d, "smtpd.log")
        # its listen(fd, 5) would drop handshakes under 20 clients: see
        # bench/listen_backlog.c
        self.shim = os.path.join(self.d, "listen_backlog.so")
        r = subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", self.shim,
                            os.path.join(HERE, "listen_backlog.c"), "-ldl"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise Skip("cc listen_backlog.c: %s" % r.stderr.strip()[-300:])
        self.commands = ["unshare -m (bind mounts over /var/spool /run "
                         "/var/lib) LD_PRELOAD=bench/listen_backlog.so "
                         "(listen backlog 5 -> SOMAXCONN) %s -d -f %s  [%s; "
                         "no virtual aliases: "
                         "6.8 applies them to local delivery only]"
                         % (self.smtpd, self.conf, self.version)]

    def start(self):
        script = ("mount --make-rprivate / && "
                  "mount --bind %(ns)s/spool /var/spool && "
                  "mount --bind %(ns)s/run /run && "
                  "mount --bind %(ns)s/varlib /var/lib && "
                  "mount --bind %(ns)s/resolv.conf /etc/resolv.conf && "
                  "LD_PRELOAD=%(shim)s exec %(smtpd)s -d -f %(conf)s"
                  % {"ns": self.ns, "smtpd": self.smtpd, "conf": self.conf,
                     "shim": self.shim})
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(["unshare", "-m", "sh", "-c", script],
                                     stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        _cleanups.append(self.stop)
        self.root = self.proc.pid
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                with open(self.log, errors="replace") as f:
                    raise Skip("OpenSMTPD exited: %s"
                               % f.read().strip()[-300:])
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise Skip("OpenSMTPD did not listen within 20 s")

    def stop(self):
        if self.proc is None:
            return
        pids, _ = tree_pids(self.proc.pid)
        kill_pid(self.proc.pid)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        for p in pids:
            kill_pid(p, 2)
        self.proc = None


# --------------------------------------------------------------- scenarios

def accept_and_relay(srv, sink, n, tag):
    """Scenario 1+2.  Returns dict of figures for one run."""
    valid = ["user%d@%s" % (i, DOMAINS[i % 3]) for i in range(1, N_RCPTS, 997)]
    per = [n // CLIENTS + (1 if i < n % CLIENTS else 0)
           for i in range(CLIENTS)]
    sink0 = sink.count()
    cpu0 = tree_cpu_ms(srv.root)
    t0 = time.monotonic()
    procs = []
    for i, m in enumerate(per):
        if m == 0:
            continue
        procs.append(subprocess.Popen(
            ["smtp-source", "-s", "1", "-m", str(m), "-l", str(MSG_LEN),
             "-M", "client%d.bench.example" % i,
             "-f", "sender%d@outside.example" % i,
             "-t", valid[i % len(valid)],
             "127.0.0.1:%d" % srv.port],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL))
    failed = 0
    for p, m in zip(procs, [m for m in per if m]):
        out, _ = p.communicate()
        if p.returncode != 0:
            failed += 1
            say("%s: smtp-source exit %d: %s" % (srv.name, p.returncode,
                out.decode(errors="replace").strip()[-300:]))
    t_acc = time.monotonic() - t0
    cpu_acc = tree_cpu_ms(srv.root) - cpu0
    # accepted: every smtp-source that exited 0 got 250 for each message
    accepted = sum(m for p, m in zip(procs, [m for m in per if m])
                   if p.returncode == 0)
    if failed:
        say("%s: %d smtp-source processes failed; their messages are not "
            "counted as accepted" % (srv.name, failed))
    deadline = t0 + E2E_TIMEOUT
    got = 0
    while time.monotonic() < deadline:
        got = sink.count() - sink0
        if got >= accepted:
            break
        time.sleep(0.02)
    t_e2e = time.monotonic() - t0
    # let stragglers (duplicates) arrive, then recount
    time.sleep(1.0)
    got = sink.count() - sink0
    cpu_all = tree_cpu_ms(srv.root) - cpu0
    if got != accepted:
        say("%s: SINK COUNT %d != ACCEPTED %d" % (srv.name, got, accepted))
    return {"accept_rate": accepted / t_acc if accepted else 0.0,
            "relay_rate": got / t_e2e if got == accepted and got else 0.0,
            "cpu_per_msg": cpu_all / accepted if accepted else 0.0,
            "cpu_per_msg_accept": cpu_acc / accepted if accepted else 0.0,
            "accepted": accepted, "relayed": got,
            "sink_ok": got == accepted and not failed}


def reject_flood(srv, tag, sessions):
    nproc = 4
    conc = max(1, CLIENTS // nproc)
    per = [sessions // nproc + (1 if i < sessions % nproc else 0)
           for i in range(nproc)]
    cpu0 = tree_cpu_ms(srv.root)
    t0 = time.monotonic()
    procs = [subprocess.Popen(
        [sys.executable, os.path.join(HERE, "rejectflood.py"), "127.0.0.1",
         str(srv.port), str(m), str(conc), "%s%d" % (tag, i)],
        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL) for i, m in
        enumerate(per)]
    tot = {"rejected": 0, "accepted": 0, "errors": 0}
    for p in procs:
        out, _ = p.communicate()
        for k, v in re.findall(r"(\w+)=(\d+)", out.decode()):
            tot[k] += int(v)
    dt = time.monotonic() - t0
    cpu = tree_cpu_ms(srv.root) - cpu0
    if tot["accepted"] or tot["errors"]:
        say("%s: reject flood: %r" % (srv.name, tot))
    r = tot["rejected"]
    return {"reject_rate": r / dt if r else 0.0,
            "cpu_per_1k_rejects": cpu * 1000.0 / r if r else 0.0}


def idle_sessions(srv, n):
    """Scenario 4: open n sessions, read each banner, hold them."""
    import selectors
    pss0 = tree_pss_kib(srv.root)
    socks = []
    t0 = time.monotonic()
    sel = selectors.DefaultSelector()
    pending = 0
    deadline = t0 + 120

    def drain(timeout):
        nonlocal pending
        for key, _ in sel.select(timeout):
            sel.unregister(key.fileobj)
            data = b""
            try:
                data = key.fileobj.recv(512)
            except OSError:
                pass
            if data[:3] == b"220":
                pending -= 1
                last[0] = time.monotonic()

    last = [t0]
    try:
        for i in range(n):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", srv.port))
            except BlockingIOError:
                pass
            socks.append(s)
            sel.register(s, selectors.EVENT_READ)
            pending += 1
            drain(0)
        t_sent = time.monotonic()
        # stop waiting at 120 s, or once no banner came for 15 s (a server
        # that stopped accepting at its session limit)
        while pending and time.monotonic() < deadline and \
                time.monotonic() - max(last[0], t_sent) < 15:
            drain(1.0)
        t_open = last[0] - t0
        held = n - pending
        time.sleep(2.0)
        # still open?  a closed one reads EOF
        alive = 0
        for s in socks:
            try:
                d = s.recv(1, socket.MSG_PEEK)
                if d:
                    alive += 1
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
        pss1 = tree_pss_kib(srv.root)
    finally:
        for s in socks:
            s.close()
        sel.close()
    return {"idle_held": min(held, alive), "idle_open_s": t_open,
            "idle_pss_kib": (pss1 - pss0) / held if held else 0.0}


# ------------------------------------------------------------------ report

FIGURES = [
    # key, label, fmt, better ("hi"/"lo"), target vs Postfix, vs OpenSMTPD
    ("accept_rate", "durable accept, msg/s", "%.0f", "hi", 3.0, 1.5),
    ("relay_rate", "end-to-end relayed, msg/s", "%.0f", "hi", 3.0, None),
    ("cpu_per_msg", "server CPU per message (accept+relay), ms", "%.2f",
     "lo", 0.25, None),
    ("cpu_per_msg_accept", "server CPU per message during accept, ms",
     "%.2f", "lo", None, None),
    ("reject_rate", "rejected RCPTs/s", "%.0f", "hi", None, None),
    ("cpu_per_1k_rejects", "server CPU per 1,000 rejects, ms", "%.0f",
     "lo", 0.25, 1.0),
    ("idle_held", "idle sessions held (of %d)" % IDLE, "%.0f", "hi", None,
     None),
    ("idle_open_s", "time until the last banner, s", "%.2f", "lo", None,
     None),
    ("idle_pss_kib", "PSS per held idle session, KiB", "%.1f", "lo", None,
     None),
]

PEERS = (("postfix", "Postfix"), ("opensmtpd", "OpenSMTPD"))


def verdict(a, b, better, target):
    if a is None or not b:
        return "-", "", ""
    ratio = a / b
    if target is None:
        return "%.2f" % ratio, "", ""
    ts = ("≥ %g" if better == "hi" else "≤ %g") % target
    if better == "lo" and target == 1.0:
        ts = "< 1"
        ok = ratio < 1.0
    else:
        ok = ratio >= target if better == "hi" else ratio <= target
    return "%.2f" % ratio, ts, "PASS" if ok else "MISS"


def report(results, extra):
    date = datetime.datetime.now().strftime("%Y-%m-%d")
    peers = [p for p in PEERS if p[0] in results]
    lines = ["# mxgate vs %s, %s" % (" and ".join(n for _, n in peers)
             or "nobody", datetime.datetime.now().strftime("%Y-%m-%d %H:%M")),
             ""]
    lines += ["- " + e for e in extra]
    lines.append("")
    head = "| figure | mxgate |" + "".join(" %s |" % n for _, n in peers)
    head += "".join(" mxgate/%s | target | |" % n for _, n in peers)
    lines.append(head)
    lines.append("|---" * (2 + 4 * len(peers)) + "|")
    for key, label, fmt, better, *targets in FIGURES:
        vals = [results.get("mxgate", {}).get(key)]
        vals += [results[p].get(key) for p, _ in peers]
        if all(v is None for v in vals):
            continue
        row = "| %s |" % label + "".join(
            " %s |" % (fmt % v if v is not None else "-") for v in vals)
        for i, (p, _) in enumerate(peers):
            t = targets[PEERS.index(peers[i])]
            row += " %s | %s | %s |" % verdict(vals[0], vals[1 + i],
                                               better, t)
        lines.append(row)
    text = "\n".join(lines) + "\n"
    print()
    print(text, flush=True)
    path = os.path.join(HERE, "results.md")   # the latest run; git keeps the rest
    with open(path, "w") as f:
        f.write(text)
    say("written to %s" % path)


def median_of(runs, key):
    v = [r[key] for r in runs if key in r]
    return statistics.median(v) if v else None


def machine():
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1048576)
    disk = subprocess.run(["df", "-h", "--output=source,fstype,size", "/tmp"],
                          capture_output=True, text=True).stdout.split("\n")
    return "nproc %d, memory %s, /tmp on %s" % (
        os.cpu_count(), mem, " ".join(disk[1].split()) if len(disk) > 1
        else "?")


def fdatasyncs_per_s(d):
    path = os.path.join(d, "fsync.test")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < 1.0:
        os.write(fd, b"x" * 512)
        os.fdatasync(fd)
        n += 1
    dt = time.monotonic() - t0
    os.close(fd)
    os.unlink(path)
    return n / dt


def main():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * IDLE + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if os.geteuid() != 0:
        print("bench: must run as root (Postfix, the worker users)")
        return 1
    root = tempfile.mkdtemp(prefix="mxgate-bench-", dir="/tmp")
    os.chmod(root, 0o755)
    if not KEEP:
        _cleanups.insert(0, lambda: shutil.rmtree(root, ignore_errors=True))
    else:
        say("keeping %s" % root)
    say("bench dir %s; %d msgs x %d runs, %d clients, %d recipients"
        % (root, N_MSGS, RUNS, CLIENTS, N_RCPTS))
    fds = fdatasyncs_per_s(root)
    rcpt_text = "".join("%s OK\n" % a for a in recipients(N_RCPTS))
    sink = CountingSink(root)
    results = {}
    extra = ["machine: %s; fdatasync/s on /tmp: %.0f" % (machine(), fds),
             "load: %d x `smtp-source -s 1 -m %d -l %d` (new session per "
             "message, 1 valid recipient each); reject flood: %d sessions "
             "x 5 unknown RCPTs (bench/rejectflood.py, 4 processes x %d "
             "concurrent); sink: `smtp-sink -c`"
             % (CLIENTS, N_MSGS // CLIENTS, MSG_LEN, REJ_SESSIONS,
                max(1, CLIENTS // 4)),
             "recipient table: %d addresses; median of %d run(s)"
             % (N_RCPTS, RUNS)]
    classes = {"mxgate": MxgateServer, "postfix": PostfixServer,
               "opensmtpd": OpenSMTPDServer}
    for name in SERVERS:
        try:
            srv = classes[name](root, sink, rcpt_text)
            say("%s: starting: %s" % (name, " ".join(srv.commands)))
            srv.start()
        except Skip as e:
            say("%s: skipped: %s" % (name, e))
            extra.append("%s: skipped: %s" % (name, e))
            continue
        extra.append("%s: `%s`" % (name, " ".join(srv.commands)))
        msgs, rej = N_MSGS, REJ_SESSIONS
        if name == "opensmtpd":
            msgs, rej = OSMTPD_MSGS, OSMTPD_REJ
            extra.append("opensmtpd: %d messages and %d reject sessions "
                         "per run (BENCH_OPENSMTPD_MSGS, "
                         "BENCH_OPENSMTPD_REJECT_SESSIONS): its RCPT "
                         "lookup walks the whole table" % (msgs, rej))
        runs = []
        for r in range(RUNS):
            fig = accept_and_relay(srv, sink, msgs, "r%d" % r)
            fig.update(reject_flood(srv, "%s%d" % (name[0], r), rej))
            say("%s run %d: %s" % (name, r + 1, ", ".join(
                "%s=%.2f" % (k, v) for k, v in fig.items()
                if isinstance(v, float))))
            runs.append(fig)
        res = {k: median_of(runs, k) for k, *_ in FIGURES}
        if not all(r["sink_ok"] for r in runs):
            extra.append("%s: sink count differed from accepted count in "
                         "some run (see log)" % name)
        if IDLE > 0:
            try:
                res.update(idle_sessions(srv, IDLE))
                say("%s idle: %r" % (name, {k: res[k] for k in
                    ("idle_held", "idle_open_s", "idle_pss_kib")}))
            except Exception as e:
                say("%s: idle sessions: %s" % (name, e))
        results[name] = {k: v for k, v in res.items() if v is not None}
        srv.stop()
    if "opensmtpd" not in SERVERS:
        say("opensmtpd: skipped: not in BENCH_SERVERS")
        extra.append("OpenSMTPD: skipped: not in BENCH_SERVERS")
    report(results, extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
