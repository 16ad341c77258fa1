"""Loop detection and the Received: header (issue 3): with smtp max-hops
5, a message whose header carries 6 Received: fields is refused after its
end with 554 5.4.6 and not queued, through DATA and through BDAT; 5 are
accepted, and Received: lines in the body do not count.  The Received:
header mxgate adds (RFC 5321 4.4), for a HELO that is a domain and for
one that is not."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import HOSTNAME, classic_config, classic_tables  # noqa: E402
from gateway import Gateway, mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import expect  # noqa: E402
from tap import Tap, eq, match, true  # noqa: E402

QUEUED = r"^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$"
HOPS = r"^554 5\.4\.6 Error: too many hops \(6 Received: header fields"
SMTPD = r"smtpd\[\d+\]: "


def message(subject, n, body_received=0):
    hdr = "".join("Received: from hop%d.test by hop%d.test; Mon, 1 Dec "
                  "2025 00:00:00 +0000\r\n" % (i, i + 1) for i in range(n))
    body = "".join("Received: in the body %d\r\n" % i
                   for i in range(body_received))
    return (hdr + "Subject: %s\r\n\r\nbody\r\n" % subject + body).encode()


def txn(gw, helo="client.test"):
    c = gw.client()
    expect(c.banner(), 220, what="banner")
    expect(c.cmd("EHLO " + helo), 250, what="EHLO")
    expect(c.cmd("MAIL FROM:<sender@outside.test>"), 250, what="MAIL")
    expect(c.cmd("RCPT TO:<user1@example1.com>"), 250, what="RCPT")
    return c


def send_data(gw, data, helo="client.test"):
    with txn(gw, helo) as c:
        expect(c.cmd("DATA"), 354, what="DATA")
        return c.data(data).last


def send_bdat(gw, data):
    with txn(gw) as c:
        c.send_raw(b"BDAT %d LAST\r\n" % len(data) + data)
        return c.reply().last


def arrived(sink, subject, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        for m in sink.messages():
            if "Subject: %s\r\n" % subject in m["data"]:
                return m
        if time.monotonic() > deadline:
            raise AssertionError("no message %r at the sink" % subject)
        time.sleep(0.1)


def main():
    t = Tap()
    sink = Sink(mkdtemp("mxgate-sink-")).start()
    gw = Gateway(None, classic_config() + "smtp max-hops 5\n",
                 classic_tables(sink.relay))
    try:
        if not t.case("start gateway with smtp max-hops 5", gw.start):
            return t.exit()
        mark = gw.mark()
        t.case("DATA, 6 Received: fields: 554 5.4.6 too many hops",
               lambda: match(HOPS, send_data(gw, message("loop data", 6)),
                             "end of data"))
        t.case("BDAT, 6 Received: fields: 554 5.4.6 too many hops",
               lambda: match(HOPS, send_bdat(gw, message("loop bdat", 6)),
                             "BDAT LAST"))
        t.case("the refusal is logged", lambda: gw.wait_log(
            SMTPD + r"[0-9A-Za-z]+: reject: END-OF-MESSAGE from "
            r"\[127\.0\.0\.1\]: 554 5\.4\.6 Error: too many hops",
            since=mark))
        t.case("DATA, 5 Received: fields: queued",
               lambda: match(QUEUED, send_data(gw, message("five data", 5)),
                             "end of data"))
        t.case("BDAT, 5 Received: fields: queued",
               lambda: match(QUEUED, send_bdat(gw, message("five bdat", 5)),
                             "BDAT LAST"))
        t.case("Received: lines in the body are not counted",
               lambda: match(QUEUED, send_data(gw, message("body hops", 1,
                                                             20)),
                             "end of data"))

        def delivered():
            for s, n in (("five data", 5), ("five bdat", 5),
                         ("body hops", 1)):
                m = arrived(sink, s)
                eq(m["data"].count("\r\nReceived: from hop"), n,
                   "%s: the client's Received fields kept" % s)
                true(m["data"].startswith("Received: from client.test "
                                          "([127.0.0.1])\r\n\tby %s "
                                          "(mxgate) with ESMTP id "
                                          % HOSTNAME),
                     "%s: ours first: %r" % (s, m["data"][:200]))
            for m in sink.messages():
                true("Subject: loop" not in m["data"],
                     "a looping message was delivered")
        t.case("accepted ones delivered with our Received: on top; the "
               "looping ones not", delivered)

        def bad_helo():
            match(QUEUED, send_data(gw, message("bad helo", 0),
                                    helo="bad(helo)\"x"), "end of data")
            m = arrived(sink, "bad helo")
            match(r"^Received: from \[127\.0\.0\.1\] \(\[127\.0\.0\.1\]\) "
                  r"\(HELO bad\?helo\?\?x\)\r\n\tby %s \(mxgate\) with "
                  r"ESMTP id [0-9A-Za-z]+\r\n\tfor <user1@example1\.com>; "
                  % re.escape(HOSTNAME), m["data"], "Received header")
        t.case("a HELO that is no domain: the address in the from clause, "
               "the HELO in a comment", bad_helo)
        t.case("stop gateway cleanly", gw.stop)
    finally:
        gw.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
