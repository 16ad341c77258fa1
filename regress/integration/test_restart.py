"""The whole daemon stopped with a message in its queue and started again:
the message is recovered and delivered exactly once; a further restart
does not deliver it again."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import classic, mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from tap import Tap, eq  # noqa: E402


def main():
    t = Tap()
    sink = Sink(mkdtemp("mxgate-sink-"))       # down for now
    gw = classic(sink.relay)
    try:
        if not t.case("start gateway", gw.start):
            return t.exit()
        qid = t.case("message accepted while the sink is down", gw.send,
                     "sender@outside.example.org", ["user1@example1.com"])
        t.case("queued as deferred", lambda: gw.wait_queue(
            lambda q: len(q) == 1 and q[0]["state"] == "deferred", 10,
            "one deferred entry"))
        t.case("daemon stopped cleanly", gw.stop)
        t.case("sink started", sink.start)
        if not t.case("daemon started again", gw.start):
            return t.exit()

        def listed():
            q = gw.queue()
            # it may already be on its way or gone: either is fine, but it
            # must not have been lost before the sink got it
            if q:
                eq([e["msgid"] for e in q], [qid], "msgids after restart")
        if isinstance(qid, str):
            t.case("recovered message listed (or already delivered)", listed)
        t.case("delivered after the restart", lambda: sink.wait_count(1, 15))

        def once():
            time.sleep(3)
            eq(sink.count(), 1, "messages at the sink 3s later")
        t.case("delivered exactly once", once)
        t.case("queue empty", lambda: gw.wait_queue(lambda q: q == [], 5,
                                                    "empty queue"))
        t.case("second restart", gw.restart)

        def still_once():
            time.sleep(3)
            eq(sink.count(), 1, "messages at the sink after another restart")
            eq(gw.queue(), [], "show queue")
        t.case("not delivered again after another restart", still_once)

        def ctl_stop():
            r = gw.ctl("stop")
            eq((r.returncode, r.stdout.strip()), (0, "stopping"),
               "smtpctl stop (exit, output)")
            eq(gw.wait_exit(15), 0, "exit status of the parent")
        t.case("smtpctl stop stops everything", ctl_stop)
    finally:
        gw.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
