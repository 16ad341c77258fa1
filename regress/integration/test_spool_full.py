"""A spool on a small filesystem filling up (issue 7, "Disk space"): the
test mounts a tmpfs of a few MiB as the gateway's spool.  Below the
`queue min-free` reserve new mail gets 452 4.3.1 at MAIL, a message
already queued is not damaged, and acceptance resumes by itself when
space returns.  Without a reserve, a disk that fills during DATA gives
452 4.3.1 at the end of data and leaves nothing behind."""

import os
import pwd
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import Gateway, classic_config, classic_tables  # noqa: E402
from gateway import is_root, mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import expect  # noqa: E402
from tap import Tap, eq, true  # noqa: E402

SENDER = "sender@outside.example.org"
NOSPACE = "452 4.3.1 Insufficient system storage"
MIB = 1024 * 1024


def mount_spool(gw, mib):
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0700" % mib,
                    "mxgate-test-spool", gw.spool], check=True,
                   capture_output=True)
    pw = pwd.getpwnam("_mxgateq")
    os.chown(gw.spool, pw.pw_uid, pw.pw_gid)


def unmount_spool(gw):
    subprocess.run(["umount", "-l", gw.spool], capture_output=True)


def fill(gw, leave):
    """A file in the spool's filesystem leaving about `leave` bytes."""
    st = os.statvfs(gw.spool)
    size = st.f_bavail * st.f_frsize - leave
    path = os.path.join(gw.spool, "filler")
    with open(path, "wb") as f:
        chunk = b"\0" * MIB
        while size > 0:
            n = min(size, len(chunk))
            f.write(chunk[:n])
            size -= n
    return path


def mail_reply(gw):
    with gw.client() as c:
        expect(c.banner(), 220, what="banner")
        expect(c.cmd("EHLO client.test"), 250, what="EHLO")
        return c.cmd("MAIL FROM:<%s>" % SENDER).last


def wait_mail_reply(gw, code, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        last = mail_reply(gw)
        if last.startswith(code):
            return last
        if time.monotonic() > deadline:
            raise AssertionError("MAIL: expected %s, still %r"
                                 % (code, last))
        time.sleep(0.3)


def reserve(t, sink):
    conf = classic_config() + "queue min-free 2M\n"
    gw = Gateway(None, conf, classic_tables(sink.relay))
    try:
        mount_spool(gw, 6)
        if not t.case("reserve: start gateway on a 6 MiB spool", gw.start):
            return
        t.case("reserve: pause outgoing", lambda: eq(gw.ctl(
            "pause", "outgoing").returncode, 0, "smtpctl pause"))
        first = t.case("reserve: a message queued before the disk fills",
                       gw.send, SENDER, ["user1@example1.com"])
        filler = fill(gw, 1 * MIB)

        def refused():
            eq(wait_mail_reply(gw, "452"), NOSPACE, "MAIL reply")
        t.case("reserve: below 2M free, MAIL gets 452 4.3.1", refused)
        t.case("reserve: the log says why", lambda: gw.wait_log(
            r"queued\[\d+\]: spool: \d+ bytes free, below the reserve of "
            r"2097152: new mail refused with 452 4.3.1"))
        t.case("reserve: show stats says spool.space=low", lambda: true(
            "spool.space=low" in gw.ctl("show", "stats").stdout,
            "show stats"))
        os.unlink(filler)
        t.case("reserve: space back, MAIL accepted again",
               lambda: wait_mail_reply(gw, "250"))
        t.case("reserve: logged", lambda: gw.wait_log(
            r"spool: \d+ bytes free again: accepting new mail"))
        t.case("reserve: a new message queued", gw.send, SENDER,
               ["alice@example1.com"])
        t.case("reserve: resume outgoing", lambda: eq(gw.ctl(
            "resume", "outgoing").returncode, 0, "smtpctl resume"))

        def both():
            got = sink.wait_rcpts(2, 15)
            eq(sorted(got), ["alice@example1.com", "user1@example1.com"],
               "delivered")
            true(isinstance(first, str), "first message id")
        t.case("reserve: the earlier message is intact and both are "
               "delivered", both)
        t.case("reserve: gateway stops cleanly", gw.stop)
    finally:
        gw.stop(check=False)
        unmount_spool(gw)
        gw.cleanup()


def full_during_data(t, sink):
    conf = classic_config() + "queue min-free 0\n"
    gw = Gateway(None, conf, classic_tables(sink.relay))
    try:
        mount_spool(gw, 4)
        if not t.case("no reserve: start gateway on a 4 MiB spool",
                      gw.start):
            return
        filler = fill(gw, 256 * 1024)

        def data_full():
            with gw.client() as c:
                expect(c.banner(), 220, what="banner")
                expect(c.cmd("EHLO client.test"), 250, what="EHLO")
                expect(c.cmd("MAIL FROM:<%s>" % SENDER), 250, what="MAIL")
                expect(c.cmd("RCPT TO:<user1@example1.com>"), 250,
                       what="RCPT")
                expect(c.cmd("DATA"), 354, what="DATA")
                line = "x" * 998 + "\r\n"
                body = "Subject: big\r\n\r\n" + line * 1024
                eq(c.data(body, timeout=30).last, NOSPACE, "end of data")
        t.case("no reserve: a 1 MiB message on a full disk gets 452 4.3.1 "
               "at the end of data", data_full)

        def clean():
            time.sleep(0.5)
            left = os.listdir(os.path.join(gw.spool, "queue"))
            eq(left, [], "files left in spool/queue")
        t.case("no reserve: nothing left behind in the spool", clean)
        os.unlink(filler)
        t.case("no reserve: space back, a message is accepted and "
               "delivered", lambda: (gw.send(SENDER, ["bob@example1.com"]),
                                     sink.wait_rcpts(3, 15)))
        t.case("no reserve: gateway stops cleanly", gw.stop)
    finally:
        gw.stop(check=False)
        unmount_spool(gw)
        gw.cleanup()


def main():
    t = Tap()
    if not is_root():
        t.ok("# skip: mounting a tmpfs needs root")
        return t.exit()
    sink = Sink(mkdtemp("mxgate-sink-"))
    try:
        t.case("start sink", sink.start)
        reserve(t, sink)
        full_during_data(t, sink)
    finally:
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
