"""Session limits (issue 3, "Limits and abuse"): smtp max-sessions,
max-sessions-per-client, timeout and max-errors, against raw clients.
One gateway with max-sessions 3, max-sessions-per-client 2, max-errors 3;
a second one with timeout 2s (so that held sessions of the first do not
time out while the test looks at the log)."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import HOSTNAME, classic_config, classic_tables  # noqa: E402
from gateway import Gateway, mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import expect  # noqa: E402
from tap import Tap, eq, true  # noqa: E402

LIMITS = """\
smtp max-sessions 3
smtp max-sessions-per-client 2
smtp max-errors 3
"""
TIMEOUT = "smtp timeout 2s\n"
SMTPD = r"smtpd\[\d+\]: [0-9A-F]{8}: "
TOO_MANY = "421 4.7.0 %s Error: too many connections" % HOSTNAME


def close_all(clients):
    for c in clients:
        c.close()


def wait_sessions_gone(gw, since, n):
    """Wait until n sessions logged their disconnect since the mark."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if gw.log_count(SMTPD + "disconnect from ",
                        since=since) >= n:
            return
        time.sleep(0.05)
    raise AssertionError("sessions did not end: %s" % gw.log_tail(10))


def max_sessions(t, gw):
    mark = gw.mark()
    held = []
    try:
        def three():
            for src in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
                c = gw.client(source=src)
                held.append(c)
                expect(c.banner(), 220, what="banner from " + src)
        if not t.case("max-sessions 3: three sessions get the banner",
                      three):
            return

        def fourth():
            with gw.client(source="127.0.0.5") as c:
                eq(c.reply().last, TOO_MANY, "reply to the 4th connection")
                true(c.closed_by_peer(5), "4th connection not closed")
        t.case("max-sessions 3: a 4th connection gets 421 4.7.0 too many "
               "connections and is closed", fourth)
        t.case("max-sessions 3: the refusal is logged", lambda: gw.wait_log(
            SMTPD + r"reject: CONNECT from \[127\.0\.0\.5\]:\d+: "
            + re.escape(TOO_MANY), since=mark))

        def still_work():
            for c in held:
                expect(c.cmd("EHLO client.test"), 250, what="EHLO")
                expect(c.cmd("NOOP"), 250, what="NOOP")
            c = held[0]
            expect(c.cmd("MAIL FROM:<testadmin@example1.com>"), 250)
            expect(c.cmd("RCPT TO:<user1@example1.com>"), 250)
            expect(c.cmd("DATA"), 354)
            expect(c.data("Subject: limits\r\n\r\nheld session\r\n"), 250)
        t.case("max-sessions 3: the first three still work (a message "
               "queued)", still_work)

        def after_close():
            for c in held:
                c.cmd("QUIT")
            close_all(held)
            wait_sessions_gone(gw, mark, 3)
            with gw.client(source="127.0.0.5") as c:
                expect(c.banner(), 220, what="banner after the others left")
                expect(c.cmd("QUIT"), 221)
        t.case("max-sessions 3: served again once sessions ended",
               after_close)
    finally:
        close_all(held)


def per_client(t, gw):
    mark = gw.mark()
    held = []
    try:
        def two():
            for _ in range(2):
                c = gw.client(source="127.0.0.1")
                held.append(c)
                expect(c.banner(), 220, what="banner")
        if not t.case("max-sessions-per-client 2: two sessions from "
                      "127.0.0.1", two):
            return

        def third():
            with gw.client(source="127.0.0.1") as c:
                eq(c.reply().last, "%s from [127.0.0.1]" % TOO_MANY,
                   "reply to the third connection")
                true(c.closed_by_peer(5), "third connection not closed")
        t.case("max-sessions-per-client 2: a third from 127.0.0.1 gets 421 "
               "4.7.0 too many connections from [127.0.0.1]", third)

        def other():
            with gw.client(source="127.0.0.2") as c:
                expect(c.banner(), 220, what="banner for 127.0.0.2")
                expect(c.cmd("EHLO client.test"), 250)
                expect(c.cmd("QUIT"), 221)
        t.case("max-sessions-per-client 2: 127.0.0.2 is still served", other)
        t.case("max-sessions-per-client 2: the first two still work",
               lambda: [expect(c.cmd("NOOP"), 250) for c in held])

        def freed():
            held[0].cmd("QUIT")
            held[0].close()
            wait_sessions_gone(gw, mark, 2)		# 127.0.0.2 and held[0]
            with gw.client(source="127.0.0.1") as c:
                expect(c.banner(), 220, what="banner")
                expect(c.cmd("QUIT"), 221)
        t.case("max-sessions-per-client 2: 127.0.0.1 served again after one "
               "left", freed)
    finally:
        close_all(held)


def idle_timeout(t, gw):
    def idle():
        with gw.client(timeout=10) as c:
            expect(c.banner(), 220, what="banner")
            expect(c.cmd("EHLO client.test"), 250)
            start = time.monotonic()
            r = c.reply(timeout=8)
            took = time.monotonic() - start
            eq(r.last, "421 4.4.2 %s Error: timeout exceeded" % HOSTNAME,
               "unsolicited reply of an idle session")
            true(1.5 <= took <= 6, "timeout after %.1fs, not ~2s" % took)
            true(c.closed_by_peer(5), "idle connection not closed")
    t.case("timeout 2s: an idle client gets 421 4.4.2 and is closed", idle)
    t.case("timeout 2s: logged", lambda: gw.wait_log(
        SMTPD + r"timeout after EHLO from \[127\.0\.0\.1\]"))


def max_errors(t, gw):
    def errors():
        with gw.client() as c:
            expect(c.banner(), 220, what="banner")
            for i in range(3):
                r = c.cmd("BOGUS%d" % i)
                true(r.code >= 500, "bad command %d: %r" % (i + 1, r.last))
            eq(c.cmd("NOOP").last,
               "421 4.7.0 %s Error: too many errors" % HOSTNAME,
               "reply after 3 bad commands")
            true(c.closed_by_peer(5), "connection not closed")
    t.case("max-errors 3: 421 4.7.0 too many errors after 3 bad commands",
           errors)

    def two_ok():
        with gw.client() as c:
            expect(c.banner(), 220, what="banner")
            for i in range(2):
                c.cmd("BOGUS%d" % i)
            expect(c.cmd("NOOP"), 250, what="NOOP after 2 bad commands")
            expect(c.cmd("QUIT"), 221)
    t.case("max-errors 3: 2 bad commands are tolerated", two_ok)


def reload_limits(t, gw):
    """A reload applies new limits to new connections (smtpd is sandboxed
    by then: no setrlimit/getrlimit on this path)."""
    def reload():
        gw.write_config(gw.config_text + "smtp max-sessions 1\n")
        r = gw.ctl("reload")
        eq((r.returncode, r.stdout.strip()), (0, "reload: ok"),
           "smtpctl reload (exit, output)")
    if not t.case("reload with smtp max-sessions 1", reload):
        return

    def one():
        with gw.client(source="127.0.0.2") as a:
            expect(a.banner(), 220, what="first banner")
            with gw.client(source="127.0.0.3") as b:
                eq(b.reply().last, TOO_MANY, "second connection")
            expect(a.cmd("NOOP"), 250, what="NOOP of the first")
    t.case("after the reload a second session gets 421", one)


def main():
    t = Tap()
    sink = Sink(mkdtemp("mxgate-sink-")).start()
    gw = Gateway(None, classic_config() + LIMITS, classic_tables(sink.relay))
    gw2 = None
    try:
        if not t.case("start gateway", gw.start):
            return t.exit()
        max_sessions(t, gw)
        per_client(t, gw)
        max_errors(t, gw)
        t.case("the held session's message was delivered",
               lambda: sink.wait_rcpts(1, 20))
        t.case("stop gateway cleanly", gw.stop)

        gw2 = Gateway(None, classic_config() + TIMEOUT,
                      classic_tables(sink.relay))
        if t.case("start gateway with smtp timeout 2s", gw2.start):
            idle_timeout(t, gw2)
            reload_limits(t, gw2)
            t.case("stop second gateway cleanly", gw2.stop)
    finally:
        gw.cleanup()
        if gw2:
            gw2.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
