"""A message sent with swaks (and one with Python's smtplib) arrives at the
test sink with the right envelope, a Received header, CRLF line ends and
its dot-lines intact; the log has the queued and the status=sent lines;
the queue is empty afterwards."""

import os
import re
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import HOSTNAME, classic, mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from tap import Failure, Tap, eq, true  # noqa: E402

BODY = "first line\n.dot line\n..two dots\nlast line\n"


def swaks(gw):
    r = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(gw.port),
         "--helo", "client.test", "--from", "sender@outside.example.org",
         "--to", "user1@example1.com", "--header", "Subject: swaks test",
         "--body", BODY, "--timeout", "20"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise Failure("swaks exit %d" % r.returncode,
                      r.stdout[-3000:] + r.stderr + gw.log_tail(20))
    m = re.search(r"<-  250 2\.0\.0 Ok: queued as (\S+)", r.stdout)
    if not m:
        raise Failure("no '250 2.0.0 Ok: queued as' in swaks' transcript",
                      r.stdout[-3000:])
    return m.group(1)


def check_message(m):
    eq(m["mail_from"], "sender@outside.example.org", "MAIL FROM at the sink")
    eq(m["rcpt_to"], ["user1@example1.com"], "RCPT TO at the sink")
    data = m["data"]
    true(data.startswith("Received: "),
         "data does not start with a Received header: %r" % data[:200])
    hdr = data.split("\r\n\r\n", 1)[0]
    lines = hdr.split("\r\n")
    received = lines[0]
    for line in lines[1:]:
        if line[:1] not in (" ", "\t"):
            break
        received += " " + line.strip()
    true(re.search(r"\bby %s\b" % re.escape(HOSTNAME), received),
         "Received header lacks 'by %s': %r" % (HOSTNAME, received))
    true("Subject: swaks test\r\n" in hdr, "Subject lost: %r" % hdr)
    true(re.search(r"(?<!\r)\n", data) is None, "bare LF in the data")
    want = "first line\r\n.dot line\r\n..two dots\r\nlast line\r\n"
    true(want in data, "body altered: %r" % data[-200:])


def main():
    t = Tap()
    sink = Sink(mkdtemp("mxgate-sink-")).start()
    gw = classic(sink.relay)
    try:
        if not t.case("start gateway", gw.start):
            return t.exit()
        qid = t.case("swaks: accepted with 250 queued as ID", swaks, gw)
        msgs = t.case("sink received one message",
                      lambda: sink.wait_count(1, 20))
        if msgs:
            t.case("envelope, Received header, CRLF and dots",
                   check_message, msgs[0])
        if isinstance(qid, str):
            t.case("log: queued: ID: from=<...>, size=N, nrcpt=1",
                   lambda: gw.wait_log(
                       re.escape(qid) + r": from=<sender@outside\.example\.org>"
                       r", size=\d+, nrcpt=1", 5))
            t.case("log: ID: to=<...>, relay=host:port, delay, status=sent",
                   lambda: gw.wait_log(
                       re.escape(qid) + r": to=<user1@example1\.com>, "
                       r"relay=\[?127\.0\.0\.1\]?:%d, .*delay=[0-9.]+.*"
                       r"status=sent \(250 2\.0\.0 Ok: queued as 1\)"
                       % sink.port, 10))
        t.case("queue empty after delivery",
               lambda: gw.wait_queue(lambda q: q == [], 10, "empty queue"))

        def with_smtplib():
            with smtplib.SMTP("127.0.0.1", gw.port, timeout=20) as s:
                s.ehlo("client.test")
                refused = s.sendmail("a@outside.example.org",
                                     ["user1@example1.com",
                                      "carol@example2.com"],
                                     "Subject: smtplib\r\n\r\nhi\r\n")
                eq(refused, {}, "refused recipients")
        t.case("smtplib: two recipients accepted", with_smtplib)
        t.case("smtplib: both recipients delivered exactly once",
               lambda: eq(sorted(sink.wait_rcpts(3, 20)[1:]),
                          ["carol@example2.com", "user1@example1.com"],
                          "recipients at the sink"))
        t.case("stop gateway cleanly", gw.stop)
    finally:
        gw.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
