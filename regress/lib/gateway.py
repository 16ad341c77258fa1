"""Start and stop a whole mxgate (parent + four workers) for a test.

    gw = Gateway(None, config_text, tables={"relay_recipients": "...", ...})
    try:
        gw.start()                 # waits for "mxgate ready" in the log
        ... gw.port, gw.ctl("show", "status"), gw.wait_log(r"status=sent")
        gw.stop()                  # raises if a worker was left behind
    finally:
        gw.cleanup()               # stops if needed, removes the temp dir

Everything lives in one directory, tmpdir or (None, the usual) a fresh
one under /tmp, mode 0755 so the unprivileged worker users can read the
tables (files 0644); cleanup() removes it.  It holds the config
mxgate.conf, the tables, spool/, the control socket, empty/ (chroot-dir,
owned by root when run as root) and the log.  The config written is a
header (hostname, origin, spool, control, chroot-dir, one listener on a
free loopback port) followed by config_text; table files are named as the
keys of ``tables`` and referred to relative to the config (``file:NAME``).

Set MXGATE_KEEP=1 to keep the directory for a post-mortem.
"""

import atexit
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from sink import free_port  # noqa: E402
from smtp import SMTPClient, expect  # noqa: E402
from tap import Failure  # noqa: E402

SMTPD = os.path.join(REPO, "smtpd", "smtpd")
SMTPCTL = os.path.join(REPO, "smtpctl", "smtpctl")
# The test build (make testbuild): the same programs with test hooks.
TESTBUILD = os.path.join(REPO, "regress", "build")
WORKERS = ("smtpd", "lookupd", "queued", "mtad")
HOSTNAME = "mx.test.example"
ORIGIN = "example.com"

_live = []


def _cleanup_all():
    for gw in list(_live):
        gw.cleanup()


atexit.register(_cleanup_all)


def is_root():
    return os.geteuid() == 0


def uid_of(user):
    return pwd.getpwnam(user).pw_uid


def tail(text, n=40):
    return "\n".join(text.rstrip("\n").split("\n")[-n:])


def mkdtemp(prefix="mxgate-test-"):
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    return d


def write_file(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def proc_ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    # the command name may contain spaces and parentheses: split after ')'
    rest = s[s.rfind(")") + 2:].split()
    return int(rest[1]) if len(rest) > 1 else None


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rfind(")") + 2:].split()[0]


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8",
                                                        "replace").strip()
    except OSError:
        return None


def proc_alive(pid):
    st = proc_state(pid)
    return st is not None and st not in ("Z", "X")


def children_of(ppid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and proc_ppid(int(d)) == ppid:
            out.append(int(d))
    return out


def _unbracket(addr):
    """'<a@b>' -> 'a@b' (show queue may print either form)."""
    if addr.startswith("<") and addr.endswith(">"):
        return addr[1:-1]
    return addr


def proc_status(pid):
    """/proc/<pid>/status as a dict."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k.strip()] = v.strip()
    return out


class Gateway:
    def __init__(self, tmpdir=None, config_text="", tables=None,
                 hostname=HOSTNAME, origin=ORIGIN, header=True, port=None,
                 listen_addr="127.0.0.1", testbuild=None):
        self.dir = tmpdir or mkdtemp()
        if testbuild is None:   # regress/asan's leak run sets it for all
            testbuild = bool(os.environ.get("MXGATE_TESTBUILD"))
        # testbuild: run the binaries of regress/build (test hooks)
        self.builddir = TESTBUILD if testbuild else REPO
        self.smtpd = os.path.join(self.builddir, "smtpd", "smtpd")
        self.smtpctl = os.path.join(self.builddir, "smtpctl", "smtpctl")
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "mxgate.conf")
        self.spool = os.path.join(self.dir, "spool")
        self.control = os.path.join(self.dir, "control.sock")
        self.empty = os.path.join(self.dir, "empty")
        self.logpath = os.path.join(self.dir, "mxgate.log")
        self.hostname = hostname
        self.origin = origin
        self.listen_addr = listen_addr
        self.port = port or free_port(listen_addr)
        self.proc = None
        self.log_start = 0
        self.pids = {}
        self.cleaned = False
        self.exit_status = None
        os.makedirs(self.empty, mode=0o755, exist_ok=True)
        os.chmod(self.empty, 0o755)
        self._make_spool()
        text = ""
        if header:
            text = self.header()
        self.config_text = text + config_text
        write_file(self.conf, self.config_text)
        for name, body in (tables or {}).items():
            self.write_table(name, body)
        _live.append(self)

    def header(self):
        return ("# written by regress/lib/gateway.py\n"
                "hostname %s\n"
                "origin %s\n"
                "spool \"%s\"\n"
                "control \"%s\"\n"
                "chroot-dir \"%s\"\n"
                "listen on %s port %d\n"
                % (self.hostname, self.origin, self.spool, self.control,
                   self.empty, self.listen_addr, self.port))

    def _make_spool(self):
        os.makedirs(self.spool, mode=0o700, exist_ok=True)
        if is_root():
            try:
                pw = pwd.getpwnam("_mxgateq")
                os.chown(self.spool, pw.pw_uid, pw.pw_gid)
            except KeyError:
                pass

    def path(self, name):
        return os.path.join(self.dir, name)

    def write_table(self, name, body):
        """(Re)write a table file atomically (rename), mode 0644."""
        tmp = self.path("." + name + ".tmp")
        write_file(tmp, body)
        os.rename(tmp, self.path(name))

    def write_config(self, text):
        self.config_text = text
        write_file(self.conf, text)

    # ----------------------------------------------------------- lifecycle

    def start(self, timeout=20.0):
        if self.proc and self.proc.poll() is None:
            return self
        if not os.access(self.smtpd, os.X_OK):
            raise Failure("%s is not built" % self.smtpd)
        with open(self.logpath, "a"):
            pass
        self.log_start = os.path.getsize(self.logpath)
        log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            [self.smtpd, "-d", "-f", self.conf, "-B", self.builddir],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=REPO)
        log.close()
        self.exit_status = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(r"mxgate ready", self.log(since=self.log_start)):
                break
            if self.proc.poll() is not None:
                st = self.proc.returncode
                self.proc = None
                raise Failure("smtpd exited with status %s before ready"
                              % st, tail(self.log(since=self.log_start)))
            time.sleep(0.05)
        else:
            logtext = self.log(since=self.log_start)
            self.stop(check=False)
            raise Failure("no 'mxgate ready' within %gs" % timeout,
                          tail(logtext))
        try:
            self.pids = {k: v["pid"] for k, v in self.status().items()}
        except Failure:
            self.pids = {}
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, check=True, timeout=15.0):
        """SIGTERM the parent, wait, SIGKILL if needed; then make sure no
        worker of this run is left (killing any that is).  With check,
        raise Failure listing what went wrong."""
        if self.proc is None:
            return
        problems = []
        parent = self.proc.pid
        kids = set(children_of(parent)) | set(self.pids.values())
        kids.discard(parent)
        if self.proc.poll() is not None:
            problems.append("parent had already exited with status %d"
                            % self.proc.returncode)
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
                if self.proc.returncode != 0:
                    problems.append("parent exited with status %d after "
                                    "SIGTERM" % self.proc.returncode)
            except subprocess.TimeoutExpired:
                problems.append("parent %d still running %gs after SIGTERM"
                                % (parent, timeout))
                self.proc.kill()
                self.proc.wait(10)
        self.exit_status = self.proc.returncode
        self.proc = None
        deadline = time.monotonic() + 5.0
        left = [p for p in kids if proc_alive(p)]
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = [p for p in left if proc_alive(p)]
        for p in left:
            problems.append("worker %d (%s) left running after the parent "
                            "exited" % (p, proc_cmdline(p)))
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        self.pids = {}
        if check and problems:
            raise Failure("; ".join(problems), tail(self.log()))

    def wait_exit(self, timeout=15.0):
        """Wait for the parent to exit by itself (smtpctl stop); then make
        sure no worker is left, as stop() does.  Returns the exit status."""
        if self.proc is None:
            raise Failure("not running")
        kids = set(children_of(self.proc.pid)) | set(self.pids.values())
        try:
            st = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failure("parent still running %gs later" % timeout,
                          self.log_tail(20)) from None
        self.exit_status = st
        self.proc = None
        deadline = time.monotonic() + 5.0
        left = [p for p in kids if proc_alive(p)]
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = [p for p in left if proc_alive(p)]
        for p in left:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        if left:
            raise Failure("workers left running: %r" % left,
                          self.log_tail(20))
        return st

    def restart(self):
        self.stop()
        return self.start()

    def cleanup(self):
        """Stop quietly and remove the directory (unless MXGATE_KEEP)."""
        if self.cleaned:
            return
        try:
            self.stop(check=False)
        finally:
            self.cleaned = True
            if self in _live:
                _live.remove(self)
            if os.environ.get("MXGATE_KEEP"):
                print("# kept %s" % self.dir, flush=True)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------- logs

    def log(self, since=0):
        try:
            with open(self.logpath, "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def mark(self):
        """Current end of the log, for wait_log(since=...)."""
        try:
            return os.path.getsize(self.logpath)
        except OSError:
            return 0

    def log_tail(self, n=40):
        return tail(self.log(), n)

    def wait_log(self, regex, timeout=10.0, since=None):
        """Wait until regex (multi-line mode) matches the log written since
        offset ``since`` (default: this run's start); return the match."""
        if since is None:
            since = self.log_start
        rx = re.compile(regex, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log(since=since))
            if m:
                return m
            if time.monotonic() >= deadline:
                raise Failure("no log line matching /%s/ within %gs"
                              % (regex, timeout), tail(self.log(since=since)))
            time.sleep(0.05)

    def log_count(self, regex, since=None):
        if since is None:
            since = self.log_start
        return len(re.findall(regex, self.log(since=since), re.M))

    # ---------------------------------------------------------- smtpctl

    def ctl(self, *args, timeout=10.0):
        """Run smtpctl -s <socket> args...; returns CompletedProcess
        (text stdout/stderr)."""
        return subprocess.run([self.smtpctl, "-s", self.control]
                              + list(args),
                              capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def status(self):
        """show status as {name: {"pid", "uptime", "restarts"}}."""
        r = self.ctl("show", "status")
        if r.returncode != 0:
            raise Failure("smtpctl show status: exit %d: %s"
                          % (r.returncode, (r.stderr or r.stdout).strip()))
        out = {}
        rx = re.compile(r"^(\S+) pid=(\d+) uptime=(\d+)s restarts=(\d+)$")
        for line in r.stdout.splitlines():
            m = rx.match(line.strip())
            if not m:
                raise Failure("show status: unexpected line %r" % line)
            out[m.group(1)] = {"pid": int(m.group(2)),
                               "uptime": int(m.group(3)),
                               "restarts": int(m.group(4))}
        return out

    def queue(self):
        """show queue as a list of dicts: msgid, age, from, to, state,
        tries, next (ints for age/tries/next)."""
        r = self.ctl("show", "queue")
        if r.returncode != 0:
            raise Failure("smtpctl show queue: exit %d: %s"
                          % (r.returncode, (r.stderr or r.stdout).strip()))
        out = []
        rx = re.compile(r"^(\S+) age=(\d+)s from=(\S*) to=(\S+) "
                        r"state=(queued|deferred|inflight) tries=(\d+) "
                        r"next=(-?\d+)s$")
        for line in r.stdout.splitlines():
            if not line.strip():
                continue
            m = rx.match(line.strip())
            if not m:
                raise Failure("show queue: unexpected line %r" % line)
            out.append({"msgid": m.group(1), "age": int(m.group(2)),
                        "from": _unbracket(m.group(3)),
                        "to": _unbracket(m.group(4)),
                        "state": m.group(5), "tries": int(m.group(6)),
                        "next": int(m.group(7))})
        return out

    def wait_queue(self, pred, timeout=10.0, what="queue condition"):
        deadline = time.monotonic() + timeout
        while True:
            q = self.queue()
            if pred(q):
                return q
            if time.monotonic() >= deadline:
                raise Failure("%s not reached within %gs; show queue: %r"
                              % (what, timeout, q), self.log_tail(20))
            time.sleep(0.2)

    def wait_status(self, pred, timeout=10.0, what="status condition"):
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                last = self.status()
                if pred(last):
                    return last
            except Failure as e:
                last = str(e)
            if time.monotonic() >= deadline:
                raise Failure("%s not reached within %gs; show status: %r"
                              % (what, timeout, last), self.log_tail(20))
            time.sleep(0.2)

    # ------------------------------------------------------------ clients

    def client(self, source=None, timeout=10.0):
        return SMTPClient(self.listen_addr, self.port, source=source,
                          timeout=timeout)

    def send(self, sender, rcpts, body=None, source=None, helo="client.test"):
        """One whole transaction that must succeed; returns the queue id
        from "250 2.0.0 Ok: queued as ID"."""
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        if body is None:
            body = ("From: <%s>\r\nTo: <%s>\r\nSubject: test\r\n\r\n"
                    "test message\r\n" % (sender, rcpts[0]))
        with self.client(source=source) as c:
            try:
                expect(c.banner(), 220, what="banner")
                expect(c.cmd("EHLO " + helo), 250, what="EHLO")
                expect(c.cmd("MAIL FROM:<%s>" % sender), 250, what="MAIL")
                for r in rcpts:
                    expect(c.cmd("RCPT TO:<%s>" % r), 250, what="RCPT " + r)
                expect(c.cmd("DATA"), 354, what="DATA")
                rep = expect(c.data(body, timeout=30), 250, what="end of data")
                m = re.match(r"^250 2\.0\.0 Ok: queued as (\S+)$", rep.last)
                if not m:
                    raise Failure("end of data: unexpected %r" % rep.last)
                c.cmd("QUIT")
                return m.group(1)
            except AssertionError as e:
                raise Failure(str(e), "\n".join(c.transcript[-20:]) + "\n"
                              + self.log_tail(20)) from None


# ----------------------------------------------------------- the classic setup

def classic_tables(relay1, relay2=None):
    """The classic gateway's tables; example1.com and subdomain.example.com
    go to relay1, example2.com to relay2 (default relay1)."""
    relay2 = relay2 or relay1
    return {
        "relay_recipients": (
            "# Postfix relay_recipient_maps format\n"
            "testadmin@example1.com  OK\n"
            "user1@example1.com      OK\n"
            "User2@Example1.COM      OK\n"
            "alice@example1.com      OK\n"
            "bob@example1.com        OK\n"
            "staff@example1.com      OK\n"
            "\n"
            "carol@example2.com      OK\n"
            "user1@example2.com      OK\n"
            "@subdomain.example.com  OK\n"),
        "virtual": (
            "# Postfix virtual_alias_maps format\n"
            "postmaster@example1.com  postmaster\n"
            "staff@example1.com       alice@example1.com, bob@example1.com,\n"
            "                         carol@example2.com\n"
            "team@example1.com        alice@example1.com bob@example1.com\n"),
        "transport": (
            "example1.com            %s\n"
            "example2.com            %s\n"
            "subdomain.example.com   %s\n" % (relay1, relay2, relay1)),
    }


CLASSIC_CONFIG = """\
max-message-size 10M
queue retry-min 1s
queue retry-max 2s
show-table-name %(show)s

table domains { example1.com, example2.com, subdomain.example.com }
table recipients file:relay_recipients
table aliases file:virtual
table transport file:transport
table trusted { 127.0.0.2/32 }

relay for <domains> recipients <recipients> aliases <aliases> via <transport>
relay from <trusted> via <transport>
"""


def classic_config(show_table_name=False):
    return CLASSIC_CONFIG % {"show": "yes" if show_table_name else "no"}


def classic(relay1, relay2=None, show_table_name=False, **kw):
    return Gateway(None, classic_config(show_table_name),
                   classic_tables(relay1, relay2), **kw)
