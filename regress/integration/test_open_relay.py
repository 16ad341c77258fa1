"""The open-relay battery (issue 5; issue 3: nothing a client sends can
make the gateway relay outside its domains).

A client outside mynetworks (source 127.0.0.1; the trusted table holds only
127.0.0.2/32), unauthenticated, tries the classic relay tricks, one
connection each.  Every RCPT must get a 5xx (the code the case names) and
the DATA that follows must not be accepted.  The transport table has a
`*` entry to the sink, so anything relayed anywhere would arrive there:
at the end the sink must hold only the positive controls (a listed
recipient, and a source route that must be ignored), and the queue must
be empty.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import classic, mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import SMTPError, expect  # noqa: E402
from tap import Failure, Tap, eq, true  # noqa: E402

SENDER = "someone@outside.test"
CONTROL = "user1@example1.com"

# (name, raw RCPT line as bytes (CRLF appended), allowed codes of the
# first reply, allowed codes of any further replies the line provokes)
DENIED = (554,)
UNKNOWN = (550,)
SYNTAX = (501, 553)
TRICKS = [
    ("percent hack user%other.com@example1.com is unknown user",
     b"RCPT TO:<user%other.com@example1.com>", UNKNOWN),
    ("percent hack with a listed local part user1%other.com@example1.com",
     b"RCPT TO:<user1%other.com@example1.com>", UNKNOWN),
    ("bang path other.com!user@example1.com",
     b"RCPT TO:<other.com!user@example1.com>", UNKNOWN),
    ("bang path without a domain other.com!user",
     b"RCPT TO:<other.com!user>", SYNTAX),
    ("source route @example1.com:user@other.com",
     b"RCPT TO:<@example1.com:user@other.com>", DENIED + SYNTAX),
    ("source route with two hops @example1.com,@example2.com:user@other.com",
     b"RCPT TO:<@example1.com,@example2.com:user@other.com>",
     DENIED + SYNTAX),
    ("quoted local part with @ \"user@other.com\"@example1.com",
     b'RCPT TO:<"user@other.com"@example1.com>', UNKNOWN + SYNTAX),
    ("quoted local part with % \"user%other.com\"@example1.com",
     b'RCPT TO:<"user%other.com"@example1.com>', UNKNOWN + SYNTAX),
    ("quoted local part of a listed user \"user1@other.com\"@example1.com",
     b'RCPT TO:<"user1@other.com"@example1.com>', UNKNOWN + SYNTAX),
    ("IP literal of the gateway itself user@[127.0.0.1]",
     b"RCPT TO:<user@[127.0.0.1]>", DENIED + SYNTAX),
    ("IPv6 literal user@[IPv6:::1]",
     b"RCPT TO:<user@[IPv6:::1]>", DENIED + SYNTAX),
    ("unbracketed IP user@127.0.0.1",
     b"RCPT TO:<user@127.0.0.1>", DENIED + SYNTAX),
    ("trailing dot user@other.com.",
     b"RCPT TO:<user@other.com.>", SYNTAX + DENIED),
    ("trailing dot on a relayed domain user1@example1.com.",
     b"RCPT TO:<user1@example1.com.>", SYNTAX + DENIED),
    ("uppercase USER@OTHER.COM",
     b"RCPT TO:<USER@OTHER.COM>", DENIED),
    ("two @ user@example1.com@other.com",
     b"RCPT TO:<user@example1.com@other.com>", SYNTAX),
    ("two @ user1@other.com@example1.com",
     b"RCPT TO:<user1@other.com@example1.com>", SYNTAX),
    ("space before > <user@other.com >",
     b"RCPT TO:<user@other.com >", SYNTAX),
    ("space before @ <user @other.com>",
     b"RCPT TO:<user @other.com>", SYNTAX),
    ("comment <user@other.com (comment)>",
     b"RCPT TO:<user@other.com (comment)>", SYNTAX),
    ("comment hiding the domain <user1(x@other.com)@example1.com>",
     b"RCPT TO:<user1(x@other.com)@example1.com>", SYNTAX),
    ("null path <> in RCPT",
     b"RCPT TO:<>", SYNTAX),
    ("<@> in RCPT",
     b"RCPT TO:<@>", SYNTAX),
    ("empty RCPT TO:",
     b"RCPT TO:", SYNTAX),
    ("no brackets user@other.com",
     b"RCPT TO:user@other.com", DENIED + SYNTAX),
    ("subdomain u@sub.example1.com",
     b"RCPT TO:<u@sub.example1.com>", DENIED),
    ("percent in the domain user@example1.com%other.com",
     b"RCPT TO:<user@example1.com%other.com>", SYNTAX),
    ("backslash-escaped @ user\\@other.com@example1.com",
     b"RCPT TO:<user\\@other.com@example1.com>", SYNTAX + UNKNOWN),
    ("relayed domain as a prefix user@example1.com.other.com",
     b"RCPT TO:<user@example1.com.other.com>", DENIED),
    ("relayed domain as a suffix user@otherexample1.com",
     b"RCPT TO:<user@otherexample1.com>", DENIED),
    ("bare CR inside the path",
     b"RCPT TO:<user@other.com\r@example1.com>", SYNTAX + (500,)),
    ("NUL inside the path",
     b"RCPT TO:<user@other.com\0@example1.com>", SYNTAX + (500,)),
    ("8-bit byte inside the path",
     b"RCPT TO:<user@other.com\xff@example1.com>", SYNTAX + (500,)),
]

# LF injection: the line may be read as two commands; every reply 5xx.
LF_TRICKS = [
    ("LF injection splitting the path",
     b"RCPT TO:<user@other.com\n@example1.com>"),
    ("LF injection of a second RCPT after an unknown user",
     b"RCPT TO:<nobody@example1.com>\nRCPT TO:<user@other.com>"),
    ("LF injection hiding a relayed domain",
     b"RCPT TO:<user@other.com>\n@example1.com"),
]


def session(gw):
    c = gw.client()
    expect(c.banner(), 220, what="banner")
    expect(c.cmd("EHLO outside.test"), 250, what="EHLO")
    expect(c.cmd("MAIL FROM:<%s>" % SENDER), 250, what="MAIL")
    return c


def no_data(c):
    """After the refused RCPTs, DATA must not open a message."""
    r = c.cmd("DATA")
    if r.code == 354:
        c.data("Subject: relayed?\r\n\r\nshould never be accepted\r\n")
        raise Failure("DATA accepted after the trick: %r" % r.text)
    true(500 <= r.code <= 599, "DATA: expected 5xx, got %r" % r.text)


def replies_to(c, line):
    """Send line, then NOOP; the replies the line provoked (it may be read
    as several commands), up to the NOOP's 250."""
    c.send(line)
    c.send("NOOP")
    out = []
    while True:
        r = c.reply()
        if r.last == "250 2.0.0 Ok" and out:
            return out
        out.append(r)
        if len(out) > 5:
            raise Failure("too many replies: %r" % [x.text for x in out])


def trick(gw, line, codes):
    c = session(gw)
    try:
        got = replies_to(c, line)
        if got[0].code not in codes:
            raise Failure("expected one of %r, got %r" % (codes, got[0].text),
                          "\n".join(c.transcript[-6:]))
        for extra in got[1:]:
            true(500 <= extra.code <= 599,
                 "further reply not 5xx: %r" % extra.text)
        no_data(c)
        expect(c.cmd("QUIT"), 221, what="QUIT")
    finally:
        c.close()


def lf_trick(gw, line):
    c = session(gw)
    try:
        got = replies_to(c, line)
        for r in got:
            true(500 <= r.code <= 599,
                 "reply not 5xx: %r" % [x.text for x in got])
        no_data(c)
        expect(c.cmd("QUIT"), 221, what="QUIT")
    finally:
        c.close()


def relay_in_data(gw):
    """Commands written into a message refused for relaying: no DATA."""
    c = session(gw)
    try:
        expect(c.cmd("RCPT TO:<user@other.com>"), 554, what="RCPT")
        no_data(c)
        # what a smuggler would send as the "body" is just commands now
        r = c.cmd("RCPT TO:<user@other.com>")
        expect(r, 554, what="second RCPT")
        expect(c.cmd("QUIT"), 221, what="QUIT")
    finally:
        c.close()


def source_route_ignored(gw):
    """A source route is accepted and ignored: <@other.com:user1@...>
    goes to user1@example1.com, never to other.com."""
    c = session(gw)
    try:
        expect(c.cmd("RCPT TO:<@other.com,@relay.other.com:%s>" % CONTROL),
               250, what="RCPT")
        expect(c.cmd("DATA"), 354, what="DATA")
        expect(c.data("Subject: source route\r\n\r\nroute ignored\r\n"),
               250, what="end of data")
        expect(c.cmd("QUIT"), 221, what="QUIT")
    finally:
        c.close()


def control(gw):
    c = session(gw)
    try:
        expect(c.cmd("RCPT TO:<%s>" % CONTROL), 250, what="RCPT")
        expect(c.cmd("DATA"), 354, what="DATA")
        expect(c.data("Subject: positive control\r\n\r\nhello\r\n"), 250,
               what="end of data")
        expect(c.cmd("QUIT"), 221, what="QUIT")
    finally:
        c.close()


def main():
    t = Tap()
    sink = Sink(mkdtemp("mxgate-sink-")).start()
    gw = classic(sink.relay)
    # anything relayed anywhere arrives at the sink
    gw.write_table("transport", "example1.com  %s\n"
                   "example2.com  %s\n"
                   "subdomain.example.com  %s\n"
                   "*  %s\n" % ((sink.relay,) * 4))
    try:
        if not t.case("start gateway", gw.start):
            return t.exit()
        for name, line, codes in TRICKS:
            t.case("relay trick: %s" % name, trick, gw, line, codes)
        for name, line in LF_TRICKS:
            t.case("relay trick: %s" % name, lf_trick, gw, line)
        t.case("relay trick: relay denied, then DATA refused", relay_in_data,
               gw)
        t.case("source route accepted and ignored (goes to %s)" % CONTROL,
               source_route_ignored, gw)
        t.case("positive control: %s accepted" % CONTROL, control, gw)

        def delivered():
            sink.wait_count(2, 20)
            gw.wait_queue(lambda q: not q, 20, "empty queue")
            time.sleep(1.0)   # anything late would show up now
            msgs = sink.messages()
            rcpts = sorted(r.lower() for m in msgs for r in m["rcpt_to"])
            eq(rcpts, [CONTROL, CONTROL], "recipients at the sink",
               detail=gw.log_tail(30))
            eq(len(msgs), 2, "messages at the sink")
        t.case("sink received only the two controls, nothing relayed",
               delivered)
        t.case("queue is empty", lambda: eq(gw.queue(), [], "show queue"))
        t.case("no relay to other domains logged", lambda: eq(
            gw.log_count(r"to=<[^>]*other\.com>.*status=sent"), 0,
            "status=sent lines for other.com"))
        t.case("stop gateway cleanly", gw.stop)
    finally:
        gw.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
