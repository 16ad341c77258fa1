"""Per-destination scheduling (issue 7, "Scheduler"): a dead internal
host and a hanging one do not delay mail for another destination; a
message's recipients at one next hop go in one transaction; the
recipients of one message at a dead and a live host are handled apart
(the live one delivered, the dead one deferred).

example1.com and subdomain.example.com go to `dead` (a port nobody
listens on, then a sink that holds every end of data for 60 s);
example2.com goes to `live`."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import Gateway, classic_config, classic_tables  # noqa: E402
from gateway import mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from tap import Tap, eq, true  # noqa: E402

SENDER = "sender@outside.example.org"
LIVE_RCPTS = ["carol@example2.com", "user1@example2.com"]


def body(subject):
    return ("From: <%s>\r\nTo: <x@example.org>\r\nSubject: %s\r\n\r\n"
            "destinations\r\n" % (SENDER, subject))


def flood_dead(t, gw, n, what):
    def send():
        for i in range(n):
            gw.send(SENDER, ["user1@example1.com", "alice@example1.com"],
                    body("%s %d" % (what, i)))
    t.case("%d messages queued for the %s host" % (n, what), send)


def live_unaffected(t, gw, live, what, before):
    def check():
        qid = gw.send(SENDER, LIVE_RCPTS, body("live after " + what))
        msgs = live.wait_count(before + 1, 20)
        last = msgs[-1]
        eq(sorted(r.lower() for r in last["rcpt_to"]), sorted(LIVE_RCPTS),
           "recipients of the one transaction")
        eq(len(msgs), before + 1, "messages at the live sink")
        true(isinstance(qid, str), "queue id")
    t.case("with the %s host's mail queued, a message for example2.com is "
           "delivered at once, its two recipients in one transaction"
           % what, check)


def main():
    t = Tap()
    live = Sink(mkdtemp("mxgate-sink-"))
    dead = Sink(mkdtemp("mxgate-sink-"), delay=60)   # not started yet
    conf = (classic_config().replace("queue retry-min 1s",
                                     "queue retry-min 1h")
            .replace("queue retry-max 2s", "queue retry-max 2h"))
    gw = Gateway(None, conf, classic_tables(dead.relay, live.relay))
    try:
        t.case("start the live sink", live.start)
        if not t.case("start gateway", gw.start):
            return t.exit()
        flood_dead(t, gw, 20, "dead")
        live_unaffected(t, gw, live, "dead", 0)

        def split():
            qid = gw.send(SENDER, ["bob@example1.com", "carol@example2.com"],
                          body("split"))
            live.wait_count(2, 20)
            q = gw.wait_queue(lambda q: any(
                e["msgid"] == qid and e["state"] == "deferred" for e in q),
                15, "bob's recipient deferred")
            mine = [e for e in q if e["msgid"] == qid]
            eq([e["to"] for e in mine], ["bob@example1.com"],
               "what stays queued of the split message")
            eq(live.messages()[-1]["rcpt_to"], ["carol@example2.com"],
               "what the live host got")
        t.case("one message to a dead and a live host: the live recipient "
               "delivered, the dead one deferred", split)

        t.case("the dead host comes up but hangs at every end of data",
               dead.start)
        t.case("every deferred message is tried against it now",
               lambda: eq(gw.ctl("schedule", "all").returncode, 0,
                          "smtpctl schedule all"))
        flood_dead(t, gw, 10, "hanging")
        live_unaffected(t, gw, live, "hanging", 2)
        t.case("gateway stops cleanly", gw.stop)
    finally:
        gw.cleanup()
        live.cleanup()
        dead.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
