"""Sandbox proofs with the test build's hooks (make testbuild,
regress/build/): each worker is asked, through `smtpctl test hook`, to do
what its promises forbid -- smtpd opening a file, every worker calling
execve, queued opening an inet socket, mtad creating a file at an absolute
path.  Each time the worker is killed, the parent's log names the system
call ("killed by seccomp: forbidden system call openat"), show status
shows it restarted, and a message queued before the kills is delivered
afterwards, once.  The release build has no hooks: its binaries do not
hold the hook code and its parent answers "not supported"."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import REPO, TESTBUILD, classic, mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from tap import Tap, eq, true  # noqa: E402

PROGS = ("smtpd/smtpd", "smtpd/mxgate-smtpd", "lookupd/mxgate-lookupd",
         "queued/mxgate-queued", "mtad/mxgate-mtad")
# what only a binary with hooks holds (common/test_hook.c, parent_fault.c)
MARKERS = (b"test hook: attempting", b"test hook: asking")

# (worker, action, the system call the parent must name)
ATTEMPTS = (
    ("smtpd", "open", "openat"),
    ("smtpd", "exec", "execve"),
    ("lookupd", "exec", "execve"),
    ("queued", "socket", "socket"),
    ("queued", "exec", "execve"),
    ("mtad", "create", "openat"),
    ("mtad", "exec", "execve"),
)
HOOK_FILE = "mxgate-test-hook"


def has_marker(path):
    with open(path, "rb") as f:
        data = f.read()
    return any(m in data for m in MARKERS)


def check_binaries(t):
    def release():
        for p in PROGS:
            true(not has_marker(os.path.join(REPO, p)),
                 "release binary %s holds test hook code" % p)

    def testbuild():
        for p in PROGS:
            true(has_marker(os.path.join(TESTBUILD, p)),
                 "test build binary %s lacks the hooks" % p)
    t.case("release binaries hold no test hook code", release)
    t.case("test build binaries hold the hooks", testbuild)


def check_release_refuses(t, relay):
    gw = classic(relay)
    try:
        if not t.case("release gateway started", gw.start):
            return
        before = gw.status()

        def refused():
            r = gw.ctl("test", "hook", "smtpd", "open")
            eq(r.returncode, 1, "smtpctl exit status")
            true("not supported" in r.stderr,
                 "smtpctl said %r" % (r.stderr + r.stdout))
            after = gw.status()
            eq(after["smtpd"]["pid"], before["smtpd"]["pid"], "smtpd pid")
            eq(after["smtpd"]["restarts"], 0, "smtpd restarts")
        t.case("release build: test hook answered 'not supported'", refused)
        t.case("release gateway stopped cleanly", gw.stop)
    finally:
        gw.cleanup()


def attempt(t, gw, worker, action, syscall):
    def run():
        st = gw.status()
        old, restarts = st[worker]["pid"], st[worker]["restarts"]
        mark = gw.mark()
        r = gw.ctl("test", "hook", worker, action)
        eq(r.returncode, 0, "smtpctl test hook exit status (%s)"
           % (r.stderr.strip() or r.stdout.strip()))
        gw.wait_log(r"%s \(pid %d\) killed by seccomp: forbidden system "
                    r"call %s$" % (worker, old, re.escape(syscall)), 10,
                    since=mark)
        gw.wait_status(lambda s: s[worker]["pid"] not in (0, old)
                       and s[worker]["restarts"] == restarts + 1, 20,
                       "%s restarted" % worker)
    t.case("%s: %s is killed, the log names %s, it is restarted"
           % (worker, action, syscall), run)


def main():
    t = Tap()
    check_binaries(t)
    sink = Sink(mkdtemp("mxgate-sink-"))        # down for now
    check_release_refuses(t, sink.relay)
    gw = classic(sink.relay, testbuild=True)
    try:
        if not t.case("test build gateway started", gw.start):
            return t.exit()
        qid = t.case("a message is queued while the next hop is down",
                     gw.send, "a@outside.example.org", ["user1@example1.com"],
                     "Subject: before the hooks\r\n\r\nhi\r\n")
        t.case("it waits in the queue", lambda: gw.wait_queue(
            lambda q: [e["msgid"] for e in q] == [qid], 10, "queued entry"))
        for worker, action, syscall in ATTEMPTS:
            attempt(t, gw, worker, action, syscall)

        def nothing_created():
            for d in ("/", gw.empty):
                true(not os.path.exists(os.path.join(d, HOOK_FILE)),
                     "%s exists" % os.path.join(d, HOOK_FILE))
        t.case("mtad created no file", nothing_created)
        t.case("the message is still queued", lambda: gw.wait_queue(
            lambda q: [e["msgid"] for e in q] == [qid], 10, "queued entry"))
        t.case("next hop back up", sink.start)
        t.case("the message queued before the kills is delivered",
               lambda: sink.wait_count(1, 30))

        def after():
            gw.send("a@outside.example.org", ["user1@example1.com"],
                    "Subject: after the hooks\r\n\r\nhi\r\n")
            sink.wait_count(2, 20)
            subjects = sorted(re.search(r"(?m)^Subject: (.*)$",
                                        m["data"]).group(1).strip()
                              for m in sink.messages())
            eq(subjects, ["after the hooks", "before the hooks"],
               "subjects at the sink")
        t.case("a new message is delivered; nothing twice", after)
        t.case("test build gateway stopped cleanly", gw.stop)
    finally:
        gw.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
