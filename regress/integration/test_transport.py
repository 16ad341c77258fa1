"""The transport table routes each domain to its own next hop: one message
for example1.com and example2.com is split between two sinks; an
`error:text` transport rejects the recipient with its text."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import Gateway, classic_config, classic_tables, mkdtemp  # noqa
from sink import Sink  # noqa: E402
from smtp import expect  # noqa: E402
from tap import Tap, eq, true  # noqa: E402


def main():
    t = Tap()
    a = Sink(mkdtemp("mxgate-sinka-")).start()
    b = Sink(mkdtemp("mxgate-sinkb-")).start()
    config = classic_config().replace(
        "subdomain.example.com }", "subdomain.example.com, closed.example.com }")
    tables = classic_tables(a.relay, b.relay)
    tables["relay_recipients"] += "@closed.example.com OK\n"
    tables["transport"] += "closed.example.com error:mailbox closed for test\n"
    gw = Gateway(None, config, tables)
    try:
        if not t.case("start gateway", gw.start):
            return t.exit()
        t.case("one message to both domains accepted", gw.send,
               "sender@outside.example.org",
               ["user1@example1.com", "carol@example2.com",
                "alice@example1.com"])
        t.case("sink A (example1.com) gets user1 and alice",
               lambda: eq(sorted(a.wait_rcpts(2, 20)),
                          ["alice@example1.com", "user1@example1.com"],
                          "sink A recipients"))
        t.case("sink B (example2.com) gets carol",
               lambda: eq(b.wait_rcpts(1, 20), ["carol@example2.com"],
                          "sink B recipients"))

        def no_more():
            time.sleep(1.5)
            eq(len(a.recipients()), 2, "sink A recipient count")
            eq(len(b.recipients()), 1, "sink B recipient count")
        t.case("nothing else arrives", no_more)

        def error_transport():
            with gw.client() as c:
                expect(c.banner(), 220)
                expect(c.cmd("EHLO client.test"), 250)
                expect(c.cmd("MAIL FROM:<sender@outside.example.org>"), 250)
                r = c.cmd("RCPT TO:<x@closed.example.com>")
                eq(r.code, 550, "RCPT code for an error: transport")
                true("mailbox closed for test" in r.last,
                     "error text not in %r" % r.last)
                expect(c.cmd("QUIT"), 221)
        t.case("error:text transport rejects with 550 and the text",
               error_transport)
        t.case("stop gateway cleanly", gw.stop)
    finally:
        gw.cleanup()
        a.cleanup()
        b.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
