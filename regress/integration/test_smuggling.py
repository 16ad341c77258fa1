"""SMTP smuggling (CVE-2023-51764 class): only CR LF "." CR LF ends DATA.

Each case sends one message to a listed recipient whose body holds a fake
end of data (\\n.\\n, \\r.\\n, \\n.\\r\\n, \\r\\n.\\r, ...) followed by a
second, smuggled MAIL FROM / RCPT TO / DATA to another listed recipient,
then the real end.  The gateway must answer exactly once for the message
and QUIT must get 221 next: it must never have seen the smuggled commands
as commands.  By default (issue 3) a bare CR or LF gets the message
refused with "550 5.6.0" (and nothing arrives); with "smtp bare-lf
normalize" it is accepted with the bare line ends stored as CR LF.  At the sink
(which would split the message itself if a fake end reached it) exactly
one message per accepted case arrives (a clean control in both modes), for the legitimate recipient only,
with CR LF line ends only, and never the smuggled recipient.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import Gateway, classic_config, classic_tables, mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import expect  # noqa: E402
from tap import Failure, Tap, eq, true  # noqa: E402

LEGIT = "user1@example1.com"
VICTIM = "carol@example2.com"          # listed too: a smuggled RCPT works
SENDER = "someone@outside.test"

FAKE_ENDS = [
    ("LF.LF", b"\n.\n"),
    ("CR.LF", b"\r.\n"),
    ("LF.CRLF", b"\n.\r\n"),
    ("CRLF.CR", b"\r\n.\r"),
    ("CR.CR", b"\r.\r"),
    ("CRLF.LF", b"\r\n.\n"),
    ("LF.CR", b"\n.\r"),
    ("CR.CRLF", b"\r.\r\n"),
    ("LF LF.LF LF", b"\n\n.\n\n"),
    ("CRLF.CR CRLF", b"\r\n.\r\r\n"),
    ("CRLF NUL.CRLF", b"\r\n\0.\r\n"),
]

SMUGGLED = (b"MAIL FROM:<evil@other.test>\r\n"
            b"RCPT TO:<" + VICTIM.encode() + b">\r\n"
            b"DATA\r\n"
            b"Subject: smuggled\r\n"
            b"\r\n"
            b"SMUGGLED-BODY\r\n")


def payload(tag, fake_end):
    return (b"Subject: " + tag.encode() + b"\r\n\r\nlegit body" + fake_end
            + SMUGGLED + b"\r\n.\r\n")


def open_data(gw):
    c = gw.client()
    expect(c.banner(), 220, what="banner")
    expect(c.cmd("EHLO outside.test"), 250, what="EHLO")
    expect(c.cmd("MAIL FROM:<%s>" % SENDER), 250, what="MAIL")
    expect(c.cmd("RCPT TO:<%s>" % LEGIT), 250, what="RCPT")
    expect(c.cmd("DATA"), 354, what="DATA")
    return c


def one_reply_then_quit(c):
    """The reply to the whole message, then 221 to QUIT and nothing in
    between: the smuggled commands were never read as commands."""
    r = c.reply(timeout=20)
    if r.code != 250:
        eq(r.last, BARE_REJECT, "end of data")
    q = c.cmd("QUIT")
    eq(q.code, 221, "reply after the message (smuggled commands "
       "answered?) %r" % q.text)
    return r.code == 250


def smuggle(gw, tag, fake_end, bytewise=False, pipelined=False):
    if pipelined:
        c = gw.client()
        try:
            c.send_raw(b"EHLO outside.test\r\nMAIL FROM:<" + SENDER.encode()
                       + b">\r\nRCPT TO:<" + LEGIT.encode() + b">\r\nDATA"
                       b"\r\n" + payload(tag, fake_end) + b"QUIT\r\n")
            replies = [c.reply() for _ in range(6)]
            codes = [r.code for r in replies]
            eq(codes[:5], [220, 250, 250, 250, 354], "replies up to DATA")
            if codes[5] != 250:
                eq(replies[5].last, BARE_REJECT, "end of data")
            q = c.reply()
            eq(q.code, 221, "reply after the message %r" % q.text)
            true(c.closed_by_peer(), "connection still open after QUIT")
            return codes[5] == 250
        finally:
            c.close()
    c = open_data(gw)
    try:
        data = payload(tag, fake_end)
        if bytewise:
            for i in range(len(data)):
                c.send_raw(data[i:i + 1])
        else:
            c.send_raw(data)
        return one_reply_then_quit(c)
    finally:
        c.close()


BARE_REJECT = ("550 5.6.0 Error: bare CR or LF in message data; end every "
               "line with CR LF")


def after_reject(gw, tag):
    """The default rejects a bare LF with BARE_REJECT; the same session
    then sends a clean message, which is accepted."""
    c = open_data(gw)
    try:
        c.send_raw(payload("rejected first", b"\n.\n"))
        eq(c.reply(timeout=20).last, BARE_REJECT, "end of data")
        expect(c.cmd("MAIL FROM:<%s>" % SENDER), 250, what="MAIL")
        expect(c.cmd("RCPT TO:<%s>" % LEGIT), 250, what="RCPT")
        expect(c.cmd("DATA"), 354, what="DATA")
        expect(c.data("Subject: %s\r\n\r\nclean\r\n" % tag), 250,
               what="end of clean data")
        expect(c.cmd("QUIT"), 221, what="QUIT")
    finally:
        c.close()
    return True


def dot_line(gw, tag):
    """A dot-stuffed "." line is content; the next hop must get it
    stuffed again (else the sink would end the message there)."""
    c = open_data(gw)
    try:
        c.send_raw(b"Subject: " + tag.encode() + b"\r\n\r\nbefore\r\n"
                   b"..\r\n" + SMUGGLED + b"\r\n.\r\n")
        true(one_reply_then_quit(c), "message refused")
    finally:
        c.close()
    return True


def battery(t, gw, sink, mode):
    """Every case against gw; mode "reject" (the default: each message
    with a bare CR or LF gets BARE_REJECT) or "normalize" (accepted, CR LF
    line ends stored).  Then what the sink got."""
    accepted = {}

    def case(name, tag, *args, **kw):
        r = t.case("%s: %s" % (mode, name), *args, **kw)
        accepted[tag] = r
        return r

    def smuggle_mode(tag, fake_end, **kw):
        ok = smuggle(gw, tag, fake_end, **kw)
        bare = re.search(rb"\r(?!\n)|(?<!\r)\n", payload(tag, fake_end))
        if mode == "reject" and bare:
            true(not ok, "message with a bare CR/LF accepted")
        else:
            true(ok, "message refused in normalize mode")
        return ok

    for name, end in FAKE_ENDS:
        tag = "smuggle %s" % name
        case("fake end %s: one transaction only" % name, tag,
             smuggle_mode, tag, end)
    tag = "smuggle bytewise LF.LF"
    case("fake end LF.LF sent a byte at a time", tag, smuggle_mode, tag,
         b"\n.\n", bytewise=True)
    tag = "smuggle bytewise CRLF.CR"
    case("fake end CRLF.CR sent a byte at a time", tag, smuggle_mode, tag,
         b"\r\n.\r", bytewise=True)
    tag = "smuggle pipelined LF.LF"
    case("fake end LF.LF in a pipelined transaction", tag, smuggle_mode,
         tag, b"\n.\n", pipelined=True)
    tag = "smuggle pipelined CR.LF"
    case("fake end CR.LF in a pipelined transaction", tag, smuggle_mode,
         tag, b"\r.\n", pipelined=True)
    tag = "dot-stuffed line"
    case("a dot-stuffed '.' line is content, re-stuffed for the next hop",
         tag, dot_line, gw, tag)
    if mode == "reject":
        tag = "after reject"
        case("the session goes on after the 550: a clean message is "
             "accepted", tag, after_reject, gw, tag)
        t.case("reject: logged as reject: END-OF-MESSAGE with 550 5.6.0",
               lambda: gw.wait_log(r"reject: END-OF-MESSAGE from "
                                   r"\[127\.0\.0\.1\]: 550 5\.6\.0 ", 5))

    want = sorted(k for k, v in accepted.items() if v)

    def arrived():
        if want:
            sink.wait_count(len(want), 30)
        gw.wait_queue(lambda q: not q, 20, "empty queue")
        time.sleep(1.0)   # a late smuggled message would show up now
        return sink.messages()
    msgs = t.case("%s: accepted messages delivered, queue empty" % mode,
                  arrived)
    if not isinstance(msgs, list):
        msgs = sink.messages()

    def subject(m):
        mm = re.search(r"^Subject: (.*)\r$", m["data"], re.M)
        return mm.group(1) if mm else None

    t.case("%s: sink: never the smuggled recipient" % mode, lambda: eq(
        [m for m in msgs if VICTIM in [r.lower() for r in m["rcpt_to"]]],
        [], "messages for %s" % VICTIM))
    t.case("%s: sink: no message begins with the smuggled header" % mode,
           lambda: eq([m["n"] for m in msgs if subject(m) == "smuggled"],
                      [], "smuggled messages"))
    t.case("%s: sink: exactly one message per accepted case" % mode,
           lambda: eq(sorted(subject(m) for m in msgs), want,
                      "subjects at the sink"))
    t.case("%s: sink: every message is for the legitimate recipient only"
           % mode, lambda: eq([m["rcpt_to"] for m in msgs
                               if [r.lower() for r in m["rcpt_to"]]
                               != [LEGIT]], [], "other recipient lists"))

    def crlf_only():
        bad = [subject(m) for m in msgs
               if re.search(r"\r(?!\n)|(?<!\r)\n", m["data"])]
        eq(bad, [], "messages with a bare CR or LF at the next hop")
    t.case("%s: sink: only CR LF line ends reach the next hop" % mode,
           crlf_only)

    def smuggled_is_content():
        for m in msgs:
            if subject(m) == "after reject":
                continue
            if "SMUGGLED-BODY" not in m["data"]:
                raise Failure("message %r lost the smuggled text: %r"
                              % (subject(m), m["data"][-300:]))
    t.case("%s: sink: the smuggled commands stayed inside the message"
           % mode, smuggled_is_content)


def main():
    t = Tap()
    sinks, gws = [], []
    try:
        for mode in ("reject", "normalize"):
            sink = Sink(mkdtemp("mxgate-sink-")).start()
            sinks.append(sink)
            conf = classic_config()
            if mode == "normalize":
                conf += "smtp bare-lf normalize\n"
            gw = Gateway(None, conf, classic_tables(sink.relay))
            gws.append(gw)
            if not t.case("%s: start gateway" % mode, gw.start):
                continue
            battery(t, gw, sink, mode)
            t.case("%s: stop gateway cleanly" % mode, gw.stop)
    finally:
        for gw in gws:
            gw.cleanup()
        for sink in sinks:
            sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
