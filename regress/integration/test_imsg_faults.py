"""Malformed and unexpected imsg between processes (test build hooks):
a worker made to send a frame shorter than its header, or a message type
its receiver never accepts, to its peers or to the parent.  The receiver
closes that link, the parent restarts the sender (show status), the parent
itself never goes down, an SMTP session open on smtpd meanwhile goes on
when another worker is the culprit, and every message accepted is
delivered once."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import WORKERS, classic, mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import expect  # noqa: E402
from tap import Tap, eq, true  # noqa: E402

# (sender, action, receivers that must log the closed link)
FAULTS = (
    ("lookupd", "badframe-peer", ("smtpd", "queued")),
    ("lookupd", "badtype-peer", ("smtpd", "queued")),
    ("mtad", "badframe-peer", ("queued",)),
    ("queued", "badtype-peer", ("smtpd", "mtad", "lookupd")),
    ("smtpd", "badframe-peer", ("lookupd", "queued")),
    ("lookupd", "badframe-parent", ("parent",)),
    ("mtad", "badtype-parent", ("parent",)),
    ("queued", "badframe-parent", ("parent",)),
)


def provoke(t, gw, sender, action, receivers):
    def run():
        st = gw.status()
        old, restarts = st[sender]["pid"], st[sender]["restarts"]
        mark = gw.mark()
        r = gw.ctl("test", "hook", sender, action)
        eq(r.returncode, 0, "smtpctl test hook exit status (%s)"
           % (r.stderr.strip() or r.stdout.strip()))
        # with several receivers, at least one: a link re-made by the
        # previous case's restart may still be on its way to the sender
        rcv = "(%s)" % "|".join(receivers)
        gw.wait_log(r"mxgate/%s\[\d+\]: %s: (malformed message|bad .*|"
                    r"unexpected .*), closing link" % (rcv, sender), 10,
                    since=mark)
        if receivers != ("parent",):
            # the first report has the sender killed; a second one names
            # a pid that is gone by then
            gw.wait_log(r"%s closed its link to %s after a malformed or "
                        r"unexpected message, restarting %s"
                        % (rcv, sender, sender), 10, since=mark)
        gw.wait_status(lambda s: s[sender]["pid"] not in (0, old)
                       and s[sender]["restarts"] == restarts + 1
                       and all(s[w]["pid"] for w in WORKERS), 20,
                       "%s restarted" % sender)
        true(gw.running(), "the parent went away")
    t.case("%s %s: link closed by %s, %s restarted"
           % (sender, action, " or ".join(receivers), sender), run)


def main():
    t = Tap()
    sink = Sink(mkdtemp("mxgate-sink-")).start()
    gw = classic(sink.relay, testbuild=True)
    sent = []
    try:
        if not t.case("test build gateway started", gw.start):
            return t.exit()
        c = gw.client()

        def open_session():
            expect(c.banner(), 220, what="banner")
            expect(c.cmd("EHLO client.test"), 250, what="EHLO")
            expect(c.cmd("MAIL FROM:<a@outside.example.org>"), 250,
                   what="MAIL")
        t.case("a session is open on smtpd", open_session)
        for n, (sender, action, receivers) in enumerate(FAULTS):
            provoke(t, gw, sender, action, receivers)
            if sender == "smtpd":
                c.close()
                continue
            if n != 0:
                continue

            def go_on():
                expect(c.cmd("RCPT TO:<user1@example1.com>"), 250,
                       what="RCPT")
                expect(c.cmd("DATA"), 354, what="DATA")
                expect(c.data("Subject: across the faults\r\n\r\nhi\r\n",
                              timeout=30), 250, what="end of data")
                sent.append("across the faults")
            t.case("the session on smtpd goes on after lookupd's restart",
                   go_on)

        def after():
            for w in WORKERS:
                gw.send("a@outside.example.org", ["user1@example1.com"],
                        "Subject: after %s\r\n\r\nhi\r\n" % w)
                sent.append("after %s" % w)
        t.case("new messages accepted after all faults", after)

        def delivered():
            sink.wait_count(len(sent), 30)
            got = sorted(re.search(r"(?m)^Subject: (.*)$", m["data"])
                         .group(1).strip() for m in sink.messages())
            eq(got, sorted(sent), "subjects at the sink")
        t.case("every accepted message delivered once", delivered)
        t.case("gateway stopped cleanly", gw.stop)
    finally:
        gw.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
