"""The classic gateway session of issue 2 point 3, line by line, with
exact codes and texts: once from a client outside mynetworks (127.0.0.1)
and once from a trusted one (source address 127.0.0.2, trusted table
{ 127.0.0.2/32 }); then show-table-name yes."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import HOSTNAME, classic, mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import expect  # noqa: E402
from tap import Tap, eq, match, true  # noqa: E402

RELAY_DENIED = "554 5.7.1 <unknown@unknowndomain.com>: Relay access denied"
USER_UNKNOWN = ("550 5.1.1 <unknown@example1.com>: Recipient address "
                "rejected: User unknown")
QUEUED = r"^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$"


def outsider_session(t, gw):
    c = gw.client()
    try:
        t.case("outsider: banner", lambda: eq(
            c.banner().last, "220 %s ESMTP mxgate" % HOSTNAME, "banner"))

        def ehlo():
            r = expect(c.cmd("EHLO client.test"), 250, what="EHLO")
            eq(r.lines[0], "250-%s" % HOSTNAME, "EHLO first line")
            for kw in ("PIPELINING", "SIZE", "8BITMIME",
                       "ENHANCEDSTATUSCODES"):
                true(kw in r.keywords(), "EHLO lacks %s: %r" % (kw, r.text))
            for kw in ("VRFY", "ETRN"):
                true(kw not in r.keywords(),
                     "EHLO offers %s: %r" % (kw, r.text))
            eq(r.keyword_args("SIZE"), [str(10 * 1024 * 1024)],
               "SIZE argument (max-message-size 10M)")
        t.case("outsider: EHLO keywords", ehlo)

        t.case("outsider: MAIL FROM 250", lambda: expect(
            c.cmd("MAIL FROM:<testadmin@example1.com>"), 250))
        t.case("outsider: RCPT to a domain not relayed is 554 relay denied",
               lambda: eq(c.cmd("RCPT TO:<unknown@unknowndomain.com>").last,
                          RELAY_DENIED, "RCPT reply"))
        t.case("outsider: RCPT to an unknown user is 550 user unknown",
               lambda: eq(c.cmd("RCPT TO:<unknown@example1.com>").last,
                          USER_UNKNOWN, "RCPT reply"))
        t.case("outsider: sub.example1.com is not example1.com",
               lambda: eq(c.cmd("RCPT TO:<user1@sub.example1.com>").last,
                          "554 5.7.1 <user1@sub.example1.com>: Relay access "
                          "denied", "RCPT reply"))
        t.case("outsider: RCPT to a listed user is 250", lambda: expect(
            c.cmd("RCPT TO:<user1@example1.com>"), 250))
        t.case("outsider: recipient keys are case-insensitive",
               lambda: expect(c.cmd("RCPT TO:<uSeR2@EXAMPLE1.com>"), 250))
        t.case("outsider: @subdomain.example.com OK accepts the domain",
               lambda: expect(c.cmd("RCPT TO:<anyone@subdomain.example.com>"),
                              250))
        t.case("outsider: DATA is 354", lambda: expect(c.cmd("DATA"), 354))
        qid = t.case("outsider: end of data is 250 2.0.0 Ok: queued as ID",
                     lambda: match(QUEUED, c.data(
                         "Subject: classic session\r\n\r\nhello\r\n").last,
                         "end of data").group(1))
        t.case("outsider: QUIT is 221", lambda: expect(c.cmd("QUIT"), 221))
        t.case("outsider: server closes after QUIT",
               lambda: true(c.closed_by_peer(), "connection still open"))
    finally:
        c.close()
    return qid


def outsider_logs(t, gw, qid):
    t.case("log: connect from [127.0.0.1]", lambda: gw.wait_log(
        r"connect from \[127\.0\.0\.1\]", 5))
    t.case("log: reject line with client, from, to and reason",
           lambda: gw.wait_log(
               r"reject: RCPT from \[127\.0\.0\.1\](:\d+)?: "
               + re.escape(RELAY_DENIED)
               + r"; from=<testadmin@example1\.com> "
               r"to=<unknown@unknowndomain\.com>", 5))
    t.case("log: reject line for the unknown user", lambda: gw.wait_log(
        r"reject: RCPT from \[127\.0\.0\.1\](:\d+)?: "
        + re.escape(USER_UNKNOWN) + r"; from=<testadmin@example1\.com> "
        r"to=<unknown@example1\.com>", 5))
    if isinstance(qid, str):
        t.case("log: queued line with from, size, nrcpt", lambda: gw.wait_log(
            re.escape(qid) + r": from=<testadmin@example1\.com>, "
            r"size=\d+, nrcpt=3", 5))


def trusted_session(t, gw):
    c = gw.client(source="127.0.0.2")
    try:
        t.case("trusted: banner", lambda: eq(
            c.banner().last, "220 %s ESMTP mxgate" % HOSTNAME, "banner"))
        t.case("trusted: EHLO", lambda: expect(c.cmd("EHLO trusted.test"),
                                               250))
        t.case("trusted: MAIL FROM 250", lambda: expect(
            c.cmd("MAIL FROM:<testadmin@example1.com>"), 250))
        t.case("trusted: may relay to any domain", lambda: expect(
            c.cmd("RCPT TO:<unknown@unknowndomain.com>"), 250))
        t.case("trusted: RSET", lambda: expect(c.cmd("RSET"), 250))
        t.case("trusted: MAIL FROM again", lambda: expect(
            c.cmd("MAIL FROM:<testadmin@example1.com>"), 250))
        t.case("trusted: unknown user in a relayed domain still 550",
               lambda: eq(c.cmd("RCPT TO:<unknown@example1.com>").last,
                          USER_UNKNOWN, "RCPT reply"))
        t.case("trusted: listed user 250", lambda: expect(
            c.cmd("RCPT TO:<user1@example1.com>"), 250))
        t.case("trusted: DATA 354", lambda: expect(c.cmd("DATA"), 354))
        t.case("trusted: queued", lambda: match(QUEUED, c.data(
            "Subject: trusted\r\n\r\nhello\r\n").last, "end of data"))
        t.case("trusted: QUIT 221", lambda: expect(c.cmd("QUIT"), 221))
    finally:
        c.close()


def pipelined_session(t, gw):
    """PIPELINING: MAIL, RCPTs and DATA in one write, replies in order."""
    with gw.client() as c:
        def run():
            expect(c.banner(), 220)
            expect(c.cmd("EHLO client.test"), 250)
            c.send_raw("MAIL FROM:<testadmin@example1.com>\r\n"
                       "RCPT TO:<unknown@example1.com>\r\n"
                       "RCPT TO:<user1@example1.com>\r\n"
                       "RCPT TO:<unknown@unknowndomain.com>\r\n"
                       "DATA\r\n")
            got = [c.reply().code for _ in range(5)]
            eq(got, [250, 550, 250, 554, 354], "replies to the pipelined "
               "MAIL, RCPT x3, DATA")
            match(QUEUED, c.data("Subject: pipelined\r\n\r\nhi\r\n").last,
                  "end of data")
            expect(c.cmd("QUIT"), 221)
        t.case("pipelined MAIL/RCPT/DATA answered in order", run)


def table_name_session(t, gw):
    with gw.client() as c:
        def rcpt():
            expect(c.banner(), 220)
            expect(c.cmd("EHLO client.test"), 250)
            expect(c.cmd("MAIL FROM:<testadmin@example1.com>"), 250)
            return c.cmd("RCPT TO:<unknown@example1.com>")
        r = t.case("show-table-name yes: session up to RCPT", rcpt)
        if not r:
            return

        def check():
            eq(r.code, 550, "code")
            true(r.last.startswith(USER_UNKNOWN + " in "),
                 "expected %r + ' in ... table', got %r"
                 % (USER_UNKNOWN, r.last))
            true("recipients" in r.last,
                 "table name 'recipients' not in %r" % r.last)
        t.case("show-table-name yes: table name in the 550 text", check)
        t.case("show-table-name yes: QUIT", lambda: expect(c.cmd("QUIT"),
                                                           221))


def main():
    t = Tap()
    sink = Sink(mkdtemp("mxgate-sink-")).start()
    gw = classic(sink.relay)
    gw2 = None
    try:
        if not t.case("start gateway", gw.start):
            return t.exit()
        qid = outsider_session(t, gw)
        outsider_logs(t, gw, qid)
        trusted_session(t, gw)
        pipelined_session(t, gw)
        t.case("all three messages delivered (5 recipients)",
               lambda: sink.wait_rcpts(5, 20))
        t.case("stop gateway cleanly", gw.stop)

        gw2 = classic(sink.relay, show_table_name=True)
        if t.case("start gateway with show-table-name yes", gw2.start):
            table_name_session(t, gw2)
            t.case("stop second gateway cleanly", gw2.stop)
    finally:
        gw.cleanup()
        if gw2:
            gw2.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
