"""Each worker's confinement, read from /proc/<pid>/status and
/proc/<pid>/root (pids from `smtpctl show status`): seccomp filter mode
(Seccomp: 2), no_new_privs; as root also the unprivileged uid (queued:
_mxgateq, the others: _mxgate) and the chroot (smtpd and mtad: the
chroot-dir, queued: the spool).  ps shows each as "mxgate: <name>"."""

import os
import pwd
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import (SMTPCTL, WORKERS, classic, is_root, mkdtemp, proc_cmdline,  # noqa
                     proc_status, uid_of)
from sink import Sink  # noqa: E402
from tap import Tap, eq, true  # noqa: E402

USER = {"smtpd": "_mxgate", "lookupd": "_mxgate", "mtad": "_mxgate",
        "queued": "_mxgateq"}


def main():
    t = Tap()
    sink = Sink(mkdtemp("mxgate-sink-")).start()
    gw = classic(sink.relay)
    try:
        if not t.case("start gateway", gw.start):
            return t.exit()
        st = t.case("show status lists parent and four workers", lambda: (
            eq(sorted(gw.status()), sorted(("parent",) + WORKERS),
               "names in show status"), gw.status())[1])
        if not st:
            return t.exit()
        root_of = {"smtpd": gw.empty, "mtad": gw.empty, "queued": gw.spool,
                   "lookupd": "/"}
        for name in WORKERS:
            pid = st[name]["pid"]

            def seccomp(pid=pid):
                s = proc_status(pid)
                eq(s.get("Seccomp"), "2", "Seccomp")
                eq(s.get("NoNewPrivs"), "1", "NoNewPrivs")
            t.case("%s: Seccomp: 2, NoNewPrivs: 1" % name, seccomp)

            def title(pid=pid, name=name):
                cl = proc_cmdline(pid) or ""
                true(cl.startswith("mxgate: " + name),
                     "cmdline %r does not start with 'mxgate: %s'"
                     % (cl, name))
            t.case("%s: ps shows 'mxgate: %s'" % (name, name), title)

            if not is_root():
                t.skip("%s: uid and root dir" % name, "not running as root")
                continue

            def uid(pid=pid, name=name):
                s = proc_status(pid)
                want = uid_of(USER[name])
                eq([int(x) for x in s["Uid"].split()], [want] * 4,
                   "Uid (real, effective, saved, fs) want %s" % USER[name])
                gid = pwd.getpwnam(USER[name]).pw_gid
                eq([int(x) for x in s["Gid"].split()], [gid] * 4,
                   "Gid (real, effective, saved, fs)")
                true(set(s.get("Groups", "").split()) <= {str(gid)},
                     "supplementary groups kept: %r" % s.get("Groups"))
            t.case("%s: runs as %s" % (name, USER[name]), uid)

            def rootdir(pid=pid, name=name):
                eq(os.readlink("/proc/%d/root" % pid),
                   os.path.realpath(root_of[name]), "root directory")
            t.case("%s: root directory is %s" % (name, root_of[name]),
                   rootdir)

            def caps(pid=pid):
                s = proc_status(pid)
                eq(int(s["CapEff"], 16), 0, "CapEff")
                eq(int(s["CapPrm"], 16), 0, "CapPrm")
                eq(int(s["CapInh"], 16), 0, "CapInh")
                eq(int(s.get("CapAmb", "0"), 16), 0, "CapAmb")
            t.case("%s: no capabilities left" % name, caps)
        if is_root():
            def socket_mode():
                st_ = os.stat(gw.control)
                eq(st_.st_uid, 0, "control socket owner")
                eq(st_.st_mode & 0o007, 0, "control socket mode: others")
            t.case("control socket owned by root, no access for others",
                   socket_mode)

            def refused():
                r = subprocess.run([SMTPCTL, "-s", gw.control, "show",
                                    "status"], capture_output=True,
                                   text=True, timeout=10, user="nobody",
                                   stdin=subprocess.DEVNULL)
                true(r.returncode != 0 and "pid=" not in r.stdout,
                     "smtpctl as nobody: exit %d, %r"
                     % (r.returncode, r.stdout))
            t.case("smtpctl as another user is refused", refused)
        t.case("a message still goes through the sandboxed workers",
               lambda: (gw.send("a@outside.example.org",
                                ["user1@example1.com"]),
                        sink.wait_count(1, 20)))
        t.case("stop gateway cleanly", gw.stop)
    finally:
        gw.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
