"""smtp processes 2 (issue 3): the parent starts two smtpd workers, each
with the listening socket and its own links to lookupd and queued;
smtpctl show status lists both.  Each serves sessions on its own (the
other one stopped with SIGSTOP meanwhile, so the kernel can only hand
connections to it).  After kill -9 of one, a message in progress on the
other is still queued (queued drops only what the dead one left open),
new connections are served, the parent restarts the dead one
(restarts=1), and every accepted message is delivered."""

import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import Gateway, classic_config, classic_tables  # noqa: E402
from gateway import mkdtemp, proc_alive  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import expect  # noqa: E402
from tap import Tap, eq, match, true  # noqa: E402

QUEUED = r"^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$"
RCPT = "user1@example1.com"


def connect_pid(gw, c):
    """The pid of the smtpd that logged this client's connect."""
    port = c.local_addr()[1]
    rx = re.compile(r"smtpd\[(\d+)\]: [0-9A-F]{8}: connect from "
                    r"\[127\.0\.0\.1\]:%d\b" % port)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = rx.search(gw.log())
        if m:
            return int(m.group(1))
        time.sleep(0.05)
    raise AssertionError("no connect line for port %d" % port)


def open_session(gw):
    c = gw.client(timeout=20)
    expect(c.banner(), 220, what="banner")
    expect(c.cmd("EHLO client.test"), 250, what="EHLO")
    return c


def send_message(c, subject):
    expect(c.cmd("MAIL FROM:<sender@outside.test>"), 250, what="MAIL")
    expect(c.cmd("RCPT TO:<%s>" % RCPT), 250, what="RCPT")
    expect(c.cmd("DATA"), 354, what="DATA")
    return match(QUEUED, c.data("Subject: %s\r\n\r\nbody\r\n" % subject
                                ).last, "end of data").group(1)


def main():
    t = Tap()
    sink = Sink(mkdtemp("mxgate-sink-")).start()
    gw = Gateway(None, classic_config() + "smtp processes 2\n",
                 classic_tables(sink.relay))
    stopped = []
    held = []
    try:
        if not t.case("start gateway with smtp processes 2", gw.start):
            return t.exit()
        pids = {}

        def status():
            st = gw.status()
            for name in ("smtpd.1", "smtpd.2", "lookupd", "queued", "mtad"):
                true(name in st, "show status lacks %s: %r" % (name, st))
            true("smtpd" not in st, "a bare smtpd line besides: %r" % st)
            pids.update({n: st[n]["pid"] for n in ("smtpd.1", "smtpd.2")})
            true(pids["smtpd.1"] != pids["smtpd.2"], "same pid twice")
            for p in pids.values():
                true(proc_alive(p), "smtpd pid %d not running" % p)
        if not t.case("show status lists smtpd.1 and smtpd.2, two "
                      "processes", status):
            return t.exit()
        p1, p2 = pids["smtpd.1"], pids["smtpd.2"]

        def each_serves():
            for busy, idle in ((p1, p2), (p2, p1)):
                os.kill(idle, signal.SIGSTOP)
                stopped.append(idle)
                try:
                    with open_session(gw) as c:
                        eq(connect_pid(gw, c), busy, "serving smtpd")
                        send_message(c, "served by %d" % busy)
                        expect(c.cmd("QUIT"), 221)
                finally:
                    os.kill(idle, signal.SIGCONT)
                    stopped.remove(idle)
        t.case("each smtpd serves a whole session by itself (the other "
               "stopped meanwhile)", each_serves)

        def kill_one():
            # a transaction on smtpd.1, in DATA, while smtpd.2 is killed
            os.kill(p2, signal.SIGSTOP)
            stopped.append(p2)
            c = open_session(gw)
            held.append(c)
            os.kill(p2, signal.SIGCONT)
            stopped.remove(p2)
            eq(connect_pid(gw, c), p1, "serving smtpd")
            expect(c.cmd("MAIL FROM:<sender@outside.test>"), 250)
            expect(c.cmd("RCPT TO:<%s>" % RCPT), 250)
            expect(c.cmd("DATA"), 354)
            c.send_raw(b"Subject: across the kill\r\n\r\nfirst half\r\n")
            os.kill(p2, signal.SIGKILL)
            gw.wait_log(r"smtpd\.2 \(pid %d\) killed by signal 9" % p2)
            c.send_raw(b"second half\r\n.\r\n")
            match(QUEUED, c.reply().last, "end of data")
            expect(c.cmd("QUIT"), 221)
        t.case("kill -9 of smtpd.2: a message in progress on smtpd.1 is "
               "still queued", kill_one)

        def still_served():
            for i in range(6):
                with open_session(gw) as c:
                    send_message(c, "after kill %d" % i)
                    expect(c.cmd("QUIT"), 221)
        t.case("new sessions are served after the kill", still_served)

        t.case("the parent restarts smtpd.2 (new pid, restarts=1)",
               lambda: gw.wait_status(
                   lambda s: s["smtpd.2"]["pid"] not in (p2,) and
                   s["smtpd.2"]["restarts"] == 1 and
                   s["smtpd.1"]["pid"] == p1 and
                   s["smtpd.1"]["restarts"] == 0, 20,
                   "smtpd.2 restarted, smtpd.1 untouched"))

        def restarted_serves():
            p2b = gw.status()["smtpd.2"]["pid"]
            os.kill(p1, signal.SIGSTOP)
            stopped.append(p1)
            try:
                with open_session(gw) as c:
                    eq(connect_pid(gw, c), p2b, "serving smtpd")
                    send_message(c, "served by the new smtpd.2")
                    expect(c.cmd("QUIT"), 221)
            finally:
                os.kill(p1, signal.SIGCONT)
                stopped.remove(p1)
        t.case("the restarted smtpd.2 serves (links to lookupd and queued "
               "renewed)", restarted_serves)

        def delivered():
            subjects = ["served by %d" % p1, "served by %d" % p2,
                        "across the kill", "served by the new smtpd.2"] + \
                ["after kill %d" % i for i in range(6)]
            sink.wait_count(len(subjects), 30)
            got = [m["data"] for m in sink.messages()]
            for s in subjects:
                eq(sum("Subject: %s\r\n" % s in d for d in got), 1,
                   "copies of %r delivered" % s)
        t.case("every accepted message delivered once", delivered)
        t.case("stop gateway cleanly", gw.stop)
    finally:
        for p in stopped:
            try:
                os.kill(p, signal.SIGCONT)
            except OSError:
                pass
        for c in held:
            c.close()
        gw.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
