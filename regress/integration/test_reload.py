"""smtpctl reload (and SIGHUP) picks up a changed recipients file: a new
user is accepted, a removed one rejected, by new sessions; a session open
across the reload is not dropped and its message is delivered.  A broken
config is refused by reload and the old one stays in force."""

import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import Gateway, classic_config, classic_tables, mkdtemp  # noqa
from sink import Sink  # noqa: E402
from probe import rcpt_code, wait_rcpt_code  # noqa: E402
from smtp import expect  # noqa: E402
from tap import Tap, eq, true  # noqa: E402

SENDER = "sender@outside.example.org"


def recipients(*users):
    return "".join("%s OK\n" % u for u in users)


def main():
    t = Tap()
    sink = Sink(mkdtemp("mxgate-sink-")).start()
    tables = classic_tables(sink.relay)
    tables["relay_recipients"] = recipients("user1@example1.com",
                                            "olduser@example1.com")
    gw = Gateway(None, classic_config(), tables)
    live = None
    try:
        if not t.case("start gateway", gw.start):
            return t.exit()
        t.case("before: olduser accepted",
               lambda: eq(rcpt_code(gw, "olduser@example1.com"), 250, "RCPT"))
        t.case("before: newuser rejected",
               lambda: eq(rcpt_code(gw, "newuser@example1.com"), 550, "RCPT"))

        live = gw.client()

        def open_session():
            expect(live.banner(), 220)
            expect(live.cmd("EHLO live.test"), 250)
            expect(live.cmd("MAIL FROM:<%s>" % SENDER), 250)
            expect(live.cmd("RCPT TO:<user1@example1.com>"), 250)
        t.case("a session is open before the reload", open_session)

        gw.write_table("relay_recipients",
                       recipients("user1@example1.com",
                                  "newuser@example1.com"))

        def reload():
            r = gw.ctl("reload")
            eq((r.returncode, r.stdout.strip()), (0, "reload: ok"),
               "smtpctl reload (exit, output)")
        t.case("smtpctl reload: reload: ok", reload)
        t.case("after: newuser accepted",
               lambda: wait_rcpt_code(gw, "newuser@example1.com", 250, 5))
        t.case("after: olduser rejected",
               lambda: eq(rcpt_code(gw, "olduser@example1.com"), 550, "RCPT"))

        def finish_session():
            expect(live.cmd("NOOP"), 250, what="NOOP after reload")
            expect(live.cmd("DATA"), 354)
            expect(live.data("Subject: across reload\r\n\r\nhi\r\n"), 250)
            expect(live.cmd("QUIT"), 221)
        t.case("the open session survives the reload", finish_session)
        t.case("its message is delivered", lambda: sink.wait_count(1, 20))

        # SIGHUP does the same
        gw.write_table("relay_recipients",
                       recipients("user1@example1.com",
                                  "newuser@example1.com",
                                  "hupuser@example1.com"))

        def hup():
            os.kill(gw.proc.pid, signal.SIGHUP)
            wait_rcpt_code(gw, "hupuser@example1.com", 250, 10)
        t.case("SIGHUP reloads too", hup)

        good = gw.config_text

        def broken():
            gw.write_config(good + "this is not a config line\n")
            r = gw.ctl("reload")
            true(r.returncode != 0, "reload of a broken config exited 0: %r"
                 % r.stdout)
            true("reload: ok" not in r.stdout,
                 "reload of a broken config said ok")
        t.case("reload refuses a broken config", broken)
        gw.write_config(good)
        t.case("old config still in force after the refused reload",
               lambda: eq(rcpt_code(gw, "hupuser@example1.com"), 250, "RCPT"))
        t.case("stop gateway cleanly", gw.stop)
    finally:
        if live:
            live.close()
        gw.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
