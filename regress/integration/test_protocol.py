"""Protocol completeness and limits of the SMTP server (issue 3), with a
raw client and exact replies: VRFY / EXPN / HELP / ETRN and unknown
commands, out-of-order commands (503 5.5.1), strict CR LF on command
lines (a bare LF or CR is refused, the session goes on), the command line
length limit (smtp max-line-length) and the DATA timeout (smtp
data-timeout, distinct from smtp timeout).

Gateway 1: the classic setup with max-errors 6, data-timeout 3s (and the
default smtp timeout of 300s).  Gateway 2: bare-lf normalize,
max-line-length 512."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import HOSTNAME, classic_config, classic_tables  # noqa: E402
from gateway import Gateway, mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import expect  # noqa: E402
from tap import Tap, eq, true  # noqa: E402

VRFY = ("252 2.5.0 Cannot VRFY user, but will accept message and attempt "
        "delivery")
BARE_LF = "500 5.5.2 Error: bare LF received; end every command with CR LF"
BARE_CR = "500 5.5.2 Error: bare CR received; end every command with CR LF"
TOO_LONG = "500 5.5.2 Error: line too long"
SMTPD = r"smtpd\[\d+\]: [0-9A-F]{8}: "


def session(gw, ehlo=True):
    c = gw.client()
    expect(c.banner(), 220, what="banner")
    if ehlo:
        expect(c.cmd("EHLO client.test"), 250, what="EHLO")
    return c


def enhanced(r):
    """The last line carries an enhanced code of the reply's class."""
    true(re.match(r"^%d [245]\.\d{1,3}\.\d{1,3} " % r.code, r.last)
         and r.last[4] == r.last[0], "no enhanced status code of class "
         "%s: %r" % (r.last[0], r.last))


def vrfy_cases(t, gw):
    def same_for_all():
        with session(gw) as c:
            for who in ("user1@example1.com", "unknown@example1.com",
                        "postmaster", "<alice@example1.com>",
                        "nobody@unknowndomain.com", "!!garbage!!"):
                eq(c.cmd("VRFY " + who).last, VRFY, "VRFY " + who)
    t.case("VRFY: the same 252 2.5.0 for listed, unknown and garbage "
           "(reveals nothing)", same_for_all)

    def before_ehlo():
        with session(gw, ehlo=False) as c:
            eq(c.cmd("VRFY user1@example1.com").last, VRFY, "VRFY")
    t.case("VRFY: answered before EHLO too", before_ehlo)

    def no_arg():
        with session(gw) as c:
            eq(c.cmd("VRFY").last, "501 5.5.4 Syntax: VRFY address", "VRFY")
    t.case("VRFY without an argument: 501 5.5.4", no_arg)

    def not_errors():
        # max-errors is 6: 10 VRFY must not count as errors
        with session(gw) as c:
            for i in range(10):
                expect(c.cmd("VRFY user%d@example1.com" % i), 252)
            expect(c.cmd("NOOP"), 250, what="NOOP after 10 VRFY")
    t.case("VRFY: a 252 is not an error (10 of them, max-errors 6)",
           not_errors)

    def fixed():
        with session(gw) as c:
            cases = [
                ("EXPN staff", "502 5.5.1 EXPN command is disabled"),
                ("EXPN", "501 5.5.4 Syntax: EXPN mailing-list"),
                ("HELP", "214 2.0.0 mxgate: see RFC 5321"),
                ("HELP DATA", "214 2.0.0 mxgate: see RFC 5321"),
                ("ETRN example1.com",
                 "502 5.5.1 Error: command not implemented"),
                ("FOO bar", "500 5.5.2 Error: command not recognized"),
                ("MAILFROM:<a@b.c>",
                 "500 5.5.2 Error: command not recognized"),
            ]
            for cmd, want in cases:
                r = c.cmd(cmd)
                eq(r.last, want, cmd)
                enhanced(r)
            expect(c.cmd("QUIT"), 221)
    t.case("EXPN 502 5.5.1, HELP 214 2.0.0, ETRN 502 5.5.1, unknown 500 "
           "5.5.2", fixed)

    def ehlo_keywords():
        with session(gw, ehlo=False) as c:
            r = expect(c.cmd("EHLO client.test"), 250)
            for kw in ("VRFY", "EXPN", "ETRN", "HELP"):
                true(kw not in r.keywords(), "EHLO offers %s" % kw)
    t.case("EHLO offers no VRFY, EXPN, ETRN", ehlo_keywords)


def order_cases(t, gw):
    def order():
        with session(gw, ehlo=False) as c:
            for cmd, want in [
                ("MAIL FROM:<a@example1.com>",
                 "503 5.5.1 Error: send HELO/EHLO first"),
                ("RCPT TO:<user1@example1.com>",
                 "503 5.5.1 Error: need MAIL command"),
                ("DATA", "503 5.5.1 Error: need RCPT command"),
            ]:
                r = c.cmd(cmd)
                eq(r.last, want, cmd + " before EHLO")
                enhanced(r)
            expect(c.cmd("EHLO client.test"), 250)
            eq(c.cmd("RCPT TO:<user1@example1.com>").last,
               "503 5.5.1 Error: need MAIL command", "RCPT before MAIL")
            eq(c.cmd("DATA").last, "503 5.5.1 Error: need RCPT command",
               "DATA before MAIL")
        with session(gw) as c:          # max-errors 6: a fresh session
            expect(c.cmd("MAIL FROM:<a@example1.com>"), 250)
            eq(c.cmd("MAIL FROM:<a@example1.com>").last,
               "503 5.5.1 Error: nested MAIL command", "second MAIL")
            eq(c.cmd("DATA").last, "554 5.5.1 Error: no valid recipients",
               "DATA without a recipient")
            expect(c.cmd("RSET"), 250)
            eq(c.cmd("RCPT TO:<user1@example1.com>").last,
               "503 5.5.1 Error: need MAIL command", "RCPT after RSET")
    t.case("out of order: 503 5.5.1 (MAIL before EHLO, RCPT before MAIL, "
           "nested MAIL, DATA before MAIL), 554 5.5.1 DATA without RCPT",
           order)

    def syntax():
        with session(gw) as c:
            for cmd, want in [
                ("EHLO", "501 5.5.4 Syntax: EHLO hostname"),
                ("HELO", "501 5.5.4 Syntax: HELO hostname"),
                ("RSET now", "501 5.5.4 Syntax: RSET"),
                ("MAIL TO:<a@b.c>", "501 5.5.4 Syntax: MAIL FROM:<address>"),
            ]:
                r = c.cmd(cmd)
                eq(r.last, want, cmd)
                enhanced(r)
    t.case("syntax errors: 501 5.5.4", syntax)


def crlf_cases(t, gw):
    mark = gw.mark()

    def bare_lf():
        with session(gw) as c:
            c.send_raw(b"NOOP\n")
            eq(c.reply().last, BARE_LF, "NOOP ended by a bare LF")
            expect(c.cmd("NOOP"), 250, what="NOOP with CR LF afterwards")
    t.case("a command ended by a bare LF: 500 5.5.2, the session goes on",
           bare_lf)

    def bare_cr():
        with session(gw) as c:
            c.send_raw(b"MAIL FROM:<a@example1.com>\rRCPT TO:"
                       b"<user1@example1.com>\r\n")
            eq(c.reply().last, BARE_CR, "MAIL with a bare CR inside")
            # neither command was taken: RCPT still needs MAIL
            eq(c.cmd("RCPT TO:<user1@example1.com>").last,
               "503 5.5.1 Error: need MAIL command", "RCPT afterwards")
    t.case("a bare CR inside a command line: 500 5.5.2, none of it taken",
           bare_cr)

    def pipelined():
        with session(gw) as c:
            c.send_raw(b"MAIL FROM:<a@example1.com>\r\n"
                       b"RCPT TO:<user1@example1.com>\n"
                       b"DATA\r\n")
            expect(c.reply(), 250, what="MAIL")
            eq(c.reply().last, BARE_LF, "RCPT ended by LF")
            eq(c.reply().last, "554 5.5.1 Error: no valid recipients",
               "DATA (no recipient was accepted)")
    t.case("pipelined: a bare-LF RCPT is refused, DATA finds no recipient",
           pipelined)

    def counted():
        with session(gw) as c:
            for i in range(6):
                c.send_raw(b"NOOP\n")
                eq(c.reply().last, BARE_LF, "bare LF %d" % (i + 1))
            eq(c.cmd("NOOP").last,
               "421 4.7.0 %s Error: too many errors" % HOSTNAME,
               "after 6 bare-LF lines (max-errors 6)")
            true(c.closed_by_peer(5), "connection not closed")
    t.case("bare-LF lines count as errors (max-errors 6 -> 421)", counted)
    t.case("bare LF logged", lambda: gw.wait_log(
        SMTPD + r"reject: bare LF in command from \[127\.0\.0\.1\]",
        since=mark))


def length_cases(t, gw, limit):
    def at_limit():
        with session(gw) as c:
            line = "NOOP " + "x" * (limit - 7)         # + CR LF = limit
            eq(len(line) + 2, limit, "line length")
            expect(c.cmd(line), 250, what="%d-byte line" % limit)
            r = c.cmd(line + "x")
            eq(r.last, TOO_LONG, "%d-byte line" % (limit + 1))
            expect(c.cmd("NOOP"), 250, what="NOOP afterwards")
    t.case("max-line-length %d: a line of %d bytes is taken, %d is 500 "
           "5.5.2 line too long" % (limit, limit, limit + 1), at_limit)

    def huge():
        with session(gw) as c:
            c.send_raw(b"NOOP " + b"y" * 200000 + b"\r\nNOOP\r\n")
            eq(c.reply(timeout=20).last, TOO_LONG, "200 kB line")
            expect(c.reply(), 250, what="the NOOP after it")
    t.case("max-line-length %d: a 200 kB line gets one 500, the next "
           "command is read" % limit, huge)


def data_timeout(t, gw, sink):
    def in_data():
        with session(gw) as c:
            expect(c.cmd("MAIL FROM:<a@example1.com>"), 250)
            expect(c.cmd("RCPT TO:<user1@example1.com>"), 250)
            expect(c.cmd("DATA"), 354)
            c.send_raw(b"Subject: stalled\r\n\r\nhalf a message")
            eq(c.reply(timeout=60).last,
               "421 4.4.2 %s Error: timeout exceeded" % HOSTNAME,
               "reply to a client stalled in DATA")
            true(c.closed_by_peer(5), "connection not closed")
    t.case("data-timeout: a client stalled in DATA gets 421 4.4.2 and is "
           "closed (smtp timeout is 300s)", in_data)
    t.case("data-timeout: logged", lambda: gw.wait_log(
        SMTPD + r"timeout after DATA from \[127\.0\.0\.1\]"))

    def commands_wait():
        # in command state the (300s) smtp timeout applies: still served
        # after waiting longer than data-timeout once
        with session(gw) as c:
            expect(c.cmd("NOOP"), 250)
            true(not c.closed_by_peer(4.5), "closed while idle between "
                 "commands")
            expect(c.cmd("NOOP"), 250, what="NOOP after 4.5s idle")
    t.case("data-timeout does not apply between commands", commands_wait)
    t.case("the stalled message was not delivered",
           lambda: eq(sink.count(), 0, "messages at the sink"))


def normalize_cases(t, gw):
    def lf_ok():
        with session(gw) as c:
            c.send_raw(b"NOOP\n")
            expect(c.reply(), 250, what="NOOP ended by LF")
            c.send_raw(b"NOOP\rNOOP\r\n")
            eq(c.reply().last, BARE_CR, "bare CR inside")
    t.case("bare-lf normalize: LF alone ends a command; a bare CR inside "
           "is still refused", lf_ok)


def main():
    t = Tap()
    sink = Sink(mkdtemp("mxgate-sink-")).start()
    gw = Gateway(None, classic_config() + "smtp max-errors 6\n"
                 "smtp data-timeout 3s\n", classic_tables(sink.relay))
    gw2 = None
    try:
        if not t.case("start gateway", gw.start):
            return t.exit()
        vrfy_cases(t, gw)
        order_cases(t, gw)
        crlf_cases(t, gw)
        length_cases(t, gw, 2048)
        data_timeout(t, gw, sink)
        t.case("stop gateway cleanly", gw.stop)

        gw2 = Gateway(None, classic_config() + "smtp bare-lf normalize\n"
                      "smtp max-line-length 512\n",
                      classic_tables(sink.relay))
        if t.case("start gateway with bare-lf normalize, max-line-length "
                  "512", gw2.start):
            normalize_cases(t, gw2)
            length_cases(t, gw2, 512)
            t.case("stop second gateway cleanly", gw2.stop)
    finally:
        gw.cleanup()
        if gw2:
            gw2.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
