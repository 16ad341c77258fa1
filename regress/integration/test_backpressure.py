"""Back-pressure (issue 3): a client that streams a large message as fast
as it can is read no faster than the message reaches the queue file, so
the smtpd worker's memory stays bounded.  With max-message-size 200M, a
50 MiB message through DATA and another through one 50 MiB BDAT chunk
(each sent in one go, never waiting for the server) must leave the peak
resident size of the smtpd worker (VmHWM in /proc/PID/status) within
16 MiB of what it was before; both messages are queued.  The next hop is
a port nobody listens on, so the messages stay in the queue."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import Gateway, classic_config, classic_tables  # noqa: E402
from gateway import mkdtemp, proc_status  # noqa: E402
from sink import free_port  # noqa: E402
from smtp import expect  # noqa: E402
from tap import Tap, true  # noqa: E402

MIB = 1024 * 1024
SIZE = 50 * MIB
BOUND = 16 * MIB
QUEUED = r"^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$"
LINE = b"x" * 998 + b"\r\n"


def kib(pid, field):
    v = proc_status(pid)[field]          # "12345 kB"
    return int(v.split()[0]) * 1024


def body(size):
    """Subject line and lines of 1000 bytes up to about size bytes."""
    block = LINE * 1024                   # 1000 KiB-ish
    head = b"Subject: big\r\n\r\n"
    n = (size - len(head)) // len(block)
    return head, block, n


def push(gw, bdat):
    head, block, n = body(SIZE)
    total = len(head) + n * len(block)
    with gw.client(timeout=120) as c:
        expect(c.banner(), 220)
        expect(c.cmd("EHLO client.test"), 250)
        expect(c.cmd("MAIL FROM:<sender@outside.test> SIZE=%d" % total),
               250)
        expect(c.cmd("RCPT TO:<user1@example1.com>"), 250)
        if bdat:
            c.send_raw(b"BDAT %d LAST\r\n" % total)
        else:
            expect(c.cmd("DATA"), 354)
        c.send_raw(head)
        for _ in range(n):
            c.send_raw(block)
        if not bdat:
            c.send_raw(b".\r\n")
        r = c.reply(timeout=120)
        true(re.match(QUEUED, r.last), "end of the message: %r" % r.last)
        expect(c.cmd("QUIT"), 221)


def bounded(t, gw, what, bdat):
    pid = gw.status()["smtpd"]["pid"]
    before = kib(pid, "VmHWM")

    def run():
        push(gw, bdat)
        after = kib(pid, "VmHWM")
        print("# %s: smtpd VmHWM %d KiB before, %d KiB after"
              % (what, before // 1024, after // 1024), flush=True)
        true(after - before < BOUND, "smtpd peak RSS grew by %d KiB "
             "(from %d to %d KiB) for a %d MiB message"
             % ((after - before) // 1024, before // 1024, after // 1024,
                SIZE // MIB))
    t.case("%s: 50 MiB streamed, queued, smtpd peak RSS within 16 MiB"
           % what, run)


def main():
    t = Tap()
    dead = "smtp:[127.0.0.1]:%d" % free_port()
    gw = Gateway(None, classic_config().replace("max-message-size 10M",
                                                "max-message-size 200M"),
                 classic_tables(dead))
    try:
        if not t.case("start gateway (max-message-size 200M)", gw.start):
            return t.exit()
        bounded(t, gw, "DATA", False)
        bounded(t, gw, "BDAT", True)
        t.case("both messages are in the queue", lambda: gw.wait_queue(
            lambda q: len(q) >= 2, 20, "two messages queued"))
        t.case("stop gateway cleanly", gw.stop)
    finally:
        gw.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
