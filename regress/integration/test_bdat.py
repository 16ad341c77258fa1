"""CHUNKING / BDAT (RFC 3030) against raw sockets (smtplib has no BDAT):
chunks stored byte for byte (no dot-unstuffing, no end marker), pipelined
chunks, BDAT 0 LAST, the size limit across chunks (552 before the bytes
are read, which are skipped), refused BDATs whose bytes are never taken
for commands, DATA after BDAT (503), BDAT after a failed DATA, bare LF
inside a chunk (550 5.6.0 by default, stored as CR LF with bare-lf
normalize), a malformed BDAT (501, closed), a client stalled inside a
chunk (data-timeout, 421), and what the next hop receives (content and
Received: header).

Gateway 1: classic, max-message-size 10M, data-timeout 3s.
Gateway 2: bare-lf normalize, smtp timeout 2s (queued stopped: the
first chunk fails, the pipelined later ones are refused)."""

import os
import re
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import HOSTNAME, classic_config, classic_tables  # noqa: E402
from gateway import Gateway, mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import expect  # noqa: E402
from tap import Tap, eq, match, true  # noqa: E402

QUEUED = r"^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$"
BARE = ("550 5.6.0 Error: bare CR or LF in message data; end every line "
        "with CR LF")
TOO_BIG = "552 5.3.4 Message size exceeds fixed limit"
RCPT = "user1@example1.com"


def bdat_cmd(n, last):
    return ("BDAT %d%s\r\n" % (n, " LAST" if last else "")).encode()


def chunk(c, data, last=False, timeout=None):
    c.send_raw(bdat_cmd(len(data), last) + data)
    return c.reply(timeout)


def open_txn(gw, rcpt=RCPT, ehlo="client.test"):
    c = gw.client()
    expect(c.banner(), 220, what="banner")
    expect(c.cmd("EHLO " + ehlo), 250, what="EHLO")
    expect(c.cmd("MAIL FROM:<sender@outside.test>"), 250, what="MAIL")
    expect(c.cmd("RCPT TO:<%s>" % rcpt), 250, what="RCPT")
    return c


def by_subject(sink, subject, timeout=20):
    """Wait for the message with that Subject at the sink; return it."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        for m in sink.messages():
            if "Subject: %s\r\n" % subject in m["data"]:
                return m
        if time.monotonic() > deadline:
            raise AssertionError("no message %r at the sink" % subject)
        time.sleep(0.1)


def basic(t, gw, sink):
    def keyword():
        with gw.client() as c:
            expect(c.banner(), 220)
            r = expect(c.cmd("EHLO client.test"), 250)
            true("CHUNKING" in r.keywords(), "no CHUNKING in %r" % r.text)
    t.case("EHLO advertises CHUNKING", keyword)

    body = (b"Subject: bdat one\r\n\r\n.\r\n..two dots\r\n"
            b".\r\nafter a lone dot\r\n")

    def one():
        with open_txn(gw) as c:
            r = chunk(c, body, last=True)
            match(QUEUED, r.last, "BDAT LAST")
            expect(c.cmd("QUIT"), 221)
    t.case("BDAT n LAST: 250 queued", one)

    def one_arrived():
        m = by_subject(sink, "bdat one")
        eq(m["rcpt_to"], [RCPT], "recipients")
        i = m["data"].index("Subject: bdat one")
        eq(m["data"][i:], body.decode(), "content after the Received "
           "header (dots kept, no end marker)")
    t.case("BDAT: the next hop gets the bytes unchanged (lines '.' and "
           "'..' included)", one_arrived)

    def pipelined():
        with open_txn(gw) as c:
            data = (bdat_cmd(21, False) + b"Subject: bdat pipe\r\n\r"
                    + bdat_cmd(8, False) + b"\nline 1\r"
                    + bdat_cmd(0, False)
                    + bdat_cmd(8, False) + b"\nline 2\r"
                    + bdat_cmd(1, True) + b"\n")
            c.send_raw(data)
            eq([c.reply().last for _ in range(4)],
               ["250 2.0.0 Ok: 21 octets received",
                "250 2.0.0 Ok: 8 octets received",
                "250 2.0.0 Ok: 0 octets received",
                "250 2.0.0 Ok: 8 octets received"], "chunk replies")
            match(QUEUED, c.reply().last, "BDAT LAST")
            expect(c.cmd("QUIT"), 221)
        m = by_subject(sink, "bdat pipe")
        true(m["data"].endswith("Subject: bdat pipe\r\n\r\nline 1\r\n"
                                "line 2\r\n"), "content %r" % m["data"])
    t.case("five chunks pipelined in one write, CR LF split across "
           "chunks, an empty chunk", pipelined)

    def zero_last():
        with open_txn(gw) as c:
            eq(chunk(c, b"Subject: bdat zero\r\n\r\nbody\r\n").last,
               "250 2.0.0 Ok: 28 octets received", "first chunk")
            match(QUEUED, chunk(c, b"", last=True).last, "BDAT 0 LAST")
        by_subject(sink, "bdat zero")
    t.case("BDAT 0 LAST ends the message", zero_last)

    def received():
        m = by_subject(sink, "bdat one")
        hdr = m["data"][:m["data"].index("Subject: bdat one")]
        match(r"^Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n"
              r"\tby %s \(mxgate\) with ESMTP id [0-9A-Za-z]+\r\n"
              r"\tfor <user1@example1\.com>; "
              r"\w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n$"
              % re.escape(HOSTNAME), hdr, "Received header")
    t.case("BDAT: Received: header prepended (from, by, with ESMTP, id, "
           "for, date)", received)


def refusals(t, gw, sink):
    def no_mail():
        with gw.client() as c:
            expect(c.banner(), 220)
            expect(c.cmd("EHLO client.test"), 250)
            r = chunk(c, b"QUIT\r\nQUIT\r\n")
            eq(r.last, "503 5.5.1 Error: need MAIL command", "BDAT")
            eq(c.cmd("NOOP").code, 250, "NOOP after the skipped chunk "
               "(its QUITs were not commands)")
    t.case("BDAT before MAIL: 503 5.5.1, its bytes skipped, not commands",
           no_mail)

    def no_rcpt():
        with gw.client() as c:
            expect(c.banner(), 220)
            expect(c.cmd("EHLO client.test"), 250)
            expect(c.cmd("MAIL FROM:<sender@outside.test>"), 250)
            expect(c.cmd("RCPT TO:<nobody@example1.com>"), 550)
            r = chunk(c, b"RSET\r\n", last=True)
            eq(r.last, "554 5.5.1 Error: no valid recipients", "BDAT")
            eq(c.cmd("RCPT TO:<%s>" % RCPT).code, 250,
               "RCPT afterwards: the transaction is still open")
    t.case("BDAT without a valid recipient: 554 5.5.1, bytes skipped",
           no_rcpt)

    def data_after():
        with open_txn(gw) as c:
            eq(chunk(c, b"Subject: bdat then data\r\n\r\n").code, 250,
               "first chunk")
            eq(c.cmd("DATA").last, "503 5.5.1 Error: DATA after BDAT",
               "DATA")
            match(QUEUED, chunk(c, b"tail\r\n", last=True).last,
                  "BDAT LAST after the refused DATA")
        m = by_subject(sink, "bdat then data")
        true(m["data"].endswith("\r\n\r\ntail\r\n"), "content %r"
             % m["data"])
    t.case("DATA after BDAT: 503 5.5.1, the BDAT transaction goes on",
           data_after)

    def after_data_error():
        with open_txn(gw) as c:
            expect(c.cmd("DATA"), 354)
            c.send_raw(b"Subject: x\r\n\r\nbare\nLF\r\n.\r\n")
            eq(c.reply().last, BARE, "DATA with a bare LF")
            expect(c.cmd("MAIL FROM:<sender@outside.test>"), 250)
            expect(c.cmd("RCPT TO:<%s>" % RCPT), 250)
            match(QUEUED, chunk(c, b"Subject: bdat after data\r\n\r\nok\r\n",
                                last=True).last, "BDAT LAST")
        by_subject(sink, "bdat after data")
    t.case("BDAT after a DATA refused for a bare LF: queued", after_data_error)

    def too_big():
        mib = 1024 * 1024
        with open_txn(gw) as c:
            eq(chunk(c, b"Subject: big\r\n\r\n" + b"x" * (6 * mib)).code,
               250, "6 MiB chunk")
            eq(chunk(c, b"y" * (6 * mib), timeout=30).last, TOO_BIG,
               "second 6 MiB chunk (max-message-size 10M)")
            eq(chunk(c, b"MAIL FROM:<a@b.c>\r\n", last=True).last,
               "503 5.5.1 Error: need MAIL command",
               "BDAT LAST after the refusal")
            expect(c.cmd("MAIL FROM:<sender@outside.test>"), 250)
            expect(c.cmd("RCPT TO:<%s>" % RCPT), 250)
            eq(chunk(c, b"z" * (11 * mib), last=True, timeout=30).last,
               TOO_BIG, "one 11 MiB chunk")
            expect(c.cmd("NOOP"), 250, what="NOOP: the 11 MiB were skipped")
    t.case("size limit across chunks: 552 5.3.4, the transaction ends, "
           "the chunk's bytes are skipped", too_big)

    def bare_lf():
        with open_txn(gw) as c:
            eq(chunk(c, b"Subject: bdat bare\r\n\r\nx\n.\nMAIL FROM:<e@f.g>"
                     b"\r\n", last=True).last, BARE, "BDAT LAST")
            expect(c.cmd("NOOP"), 250)
    t.case("bare LF inside a chunk: 550 5.6.0 after LAST (bare-lf reject)",
           bare_lf)

    def malformed():
        with open_txn(gw) as c:
            eq(c.cmd("BDAT ten LAST").last,
               "501 5.5.4 Syntax: BDAT chunk-size [LAST]", "BDAT ten")
            true(c.closed_by_peer(5), "connection not closed")
    t.case("malformed BDAT: 501 5.5.4 and closed (the chunk cannot be "
           "found)", malformed)

    def rset():
        with open_txn(gw) as c:
            eq(chunk(c, b"Subject: bdat reset\r\n\r\n").code, 250, "chunk")
            expect(c.cmd("RSET"), 250)
            eq(chunk(c, b"x\r\n", last=True).last,
               "503 5.5.1 Error: need MAIL command", "BDAT after RSET")
    t.case("RSET drops a BDAT transaction", rset)

    def stalled():
        with open_txn(gw) as c:
            c.send_raw(bdat_cmd(1000, True) + b"Subject: bdat stalled\r\n")
            eq(c.reply(timeout=60).last,
               "421 4.4.2 %s Error: timeout exceeded" % HOSTNAME,
               "reply to a client stalled inside a chunk")
            true(c.closed_by_peer(5), "connection not closed")
    t.case("a client stalled inside a chunk: 421 4.4.2 (data-timeout)",
           stalled)

    def nothing_refused_arrived():
        by_subject(sink, "bdat after data")     # delivered after the others
        for m in sink.messages():
            for s in ("bdat bare", "bdat reset", "bdat stalled",
                      "Subject: big"):
                true(s not in m["data"], "%r arrived" % s)
    t.case("refused, reset and stalled messages were not delivered",
           nothing_refused_arrived)


def normalize(t, gw, sink):
    def stored():
        with open_txn(gw) as c:
            eq(chunk(c, b"Subject: bdat norm\r\n\r\na\nb\rc\r|").last,
               "250 2.0.0 Ok: 29 octets received", "first chunk")
            match(QUEUED, chunk(c, b"d", last=True).last, "BDAT LAST")
        m = by_subject(sink, "bdat norm")
        true(m["data"].endswith("\r\n\r\na\r\nb\r\nc\r\n|d\r\n"),
             "content %r" % m["data"])
    t.case("bare-lf normalize: bare LF and CR in chunks stored as CR LF",
           stored)


def failed_first(t, gw, sink):
    """queued stopped, smtp timeout 2s: the first chunk of a pipelined
    BDAT transaction fails (451), the later chunks are refused, nothing
    is queued."""
    def run():
        qpid = gw.status()["queued"]["pid"]
        os.kill(qpid, signal.SIGSTOP)
        try:
            with open_txn(gw) as c:
                c.send_raw(bdat_cmd(22, False) + b"Subject: bdat failed\r\n"
                           + bdat_cmd(6, False) + b"more\r\n"
                           + bdat_cmd(6, True) + b"last\r\n")
                r = [c.reply(timeout=30).last for _ in range(3)]
                eq(r[0], "451 4.3.0 Error: queue file write error",
                   "first chunk, queued not answering")
                eq(r[1:], ["503 5.5.1 Error: need MAIL command"] * 2,
                   "the later chunks")
                expect(c.cmd("NOOP"), 250, what="NOOP: chunks skipped")
        finally:
            os.kill(qpid, signal.SIGCONT)
        with open_txn(gw) as c:
            match(QUEUED, chunk(c, b"Subject: bdat recovered\r\n\r\n",
                                last=True).last, "BDAT LAST")
        by_subject(sink, "bdat recovered")
        for m in sink.messages():
            true("bdat failed" not in m["data"], "the failed one arrived")
    t.case("pipelined chunks after a failed first chunk are refused, "
           "nothing of them queued", run)


def main():
    t = Tap()
    sink = Sink(mkdtemp("mxgate-sink-")).start()
    gw = Gateway(None, classic_config() + "smtp data-timeout 3s\n",
                 classic_tables(sink.relay))
    gw2 = None
    try:
        if not t.case("start gateway", gw.start):
            return t.exit()
        basic(t, gw, sink)
        refusals(t, gw, sink)
        t.case("stop gateway cleanly", gw.stop)
        gw2 = Gateway(None, classic_config() + "smtp bare-lf normalize\n"
                  "smtp timeout 2s\n",
                      classic_tables(sink.relay))
        if t.case("start gateway with bare-lf normalize", gw2.start):
            normalize(t, gw2, sink)
            failed_first(t, gw2, sink)
            t.case("stop second gateway cleanly", gw2.stop)
    finally:
        gw.cleanup()
        if gw2:
            gw2.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
