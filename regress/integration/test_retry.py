"""A message accepted while the next hop is down stays queued (show queue:
deferred, log: status=deferred), is retried with retry-min 1s /
retry-max 2s, and is delivered exactly once after the sink comes up."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import classic, mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from tap import Tap, eq, true  # noqa: E402


def main():
    t = Tap()
    sink = Sink(mkdtemp("mxgate-sink-"))       # port reserved, not started
    gw = classic(sink.relay)
    try:
        if not t.case("start gateway", gw.start):
            return t.exit()
        qid = t.case("message accepted while the sink is down", gw.send,
                     "sender@outside.example.org", ["user1@example1.com"])
        t.case("log: status=deferred", lambda: gw.wait_log(
            r"to=<user1@example1\.com>, relay=.*status=deferred", 10))

        def deferred():
            q = gw.wait_queue(lambda q: any(e["state"] == "deferred"
                                            for e in q), 10,
                              "a deferred entry")
            eq(len(q), 1, "entries in show queue")
            e = q[0]
            if isinstance(qid, str):
                eq(e["msgid"], qid, "msgid in show queue")
            eq(e["from"], "sender@outside.example.org", "from")
            eq(e["to"], "user1@example1.com", "to")
            true(e["tries"] >= 1, "tries should be >= 1: %r" % e)
            true(0 <= e["next"] <= 2, "next try within retry-max 2s: %r" % e)
        t.case("show queue lists it as deferred", deferred)

        def retried():
            time.sleep(3)
            q = gw.queue()
            true(q and q[0]["tries"] >= 2,
                 "expected >= 2 tries after 3s with retry-max 2s: %r" % q)
        t.case("retried while the sink is down", retried)
        t.case("nothing delivered yet", lambda: eq(sink.count(), 0,
                                                    "sink count"))
        t.case("sink started", sink.start)
        t.case("delivered after the sink comes up",
               lambda: sink.wait_count(1, 15))

        def once():
            time.sleep(3)
            eq(sink.count(), 1, "messages at the sink 3s later")
            eq(sink.recipients(), ["user1@example1.com"], "recipients")
        t.case("delivered exactly once", once)
        t.case("queue empty", lambda: gw.wait_queue(lambda q: q == [], 5,
                                                    "empty queue"))
        t.case("log: status=sent", lambda: gw.wait_log(
            r"to=<user1@example1\.com>, relay=.*status=sent", 5))
        t.case("stop gateway cleanly", gw.stop)
    finally:
        gw.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
