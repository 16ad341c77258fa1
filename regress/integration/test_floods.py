"""Slowloris, connection floods and a client that never reads, against
`smtp timeout 3s`, `smtp data-timeout 3s`, `smtp max-sessions 300`:

- 200 clients trickling a command one byte a second: each gets
  "421 4.4.2 ... timeout exceeded" and is closed (a command must be
  complete within the timeout, however slowly it comes), while a
  well-behaved client sends a message that is delivered;
- 20 clients trickling a message a byte a second after DATA, and 20
  within a BDAT chunk: 421 4.4.2 too (a message must average 500
  bytes/s), nothing queued;
- 400 connections at once: beyond max-sessions they get 421 4.7.0; the
  ones held are closed by the timeout without the test closing them, and
  a well-behaved client is served afterwards;
- a client pipelining NOOPs without ever reading a reply: smtpd stops
  reading it, drops it when the write times out, and serves others;
- throughout, smtpd's resident memory (VmRSS) stays bounded and the
  parent and workers stay up (no restarts)."""

import os
import re
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import WORKERS, mkdtemp, proc_status  # noqa: E402
from gateway import classic_config, classic_tables, Gateway  # noqa: E402
from sink import Sink  # noqa: E402
from tap import Tap, eq, true  # noqa: E402

SLOW = 200
SLOW_DATA = 20
FLOOD = 400
MAX_SESSIONS = 300
RSS_SLACK_KB = 64 * 1024        # what smtpd may grow by, at most
LIMITS = ("smtp timeout 3s\n"
          "smtp data-timeout 3s\n"
          "smtp max-sessions %d\n"
          "smtp max-sessions-per-client 1000\n" % MAX_SESSIONS)


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), 10)
        self.sock.setblocking(False)
        self.buf = b""
        self.closed = False

    def pump(self):
        """Read what is there; notice EOF."""
        while not self.closed:
            try:
                d = self.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                self.closed = True
                return
            if not d:
                self.closed = True
                return
            self.buf += d

    def send(self, data):
        try:
            return self.sock.send(data)
        except BlockingIOError:
            return 0
        except OSError:
            self.closed = True
            return 0

    def close(self):
        self.sock.close()


class RSS:
    def __init__(self, gw):
        self.pid = gw.status()["smtpd"]["pid"]
        self.base = self.now()
        self.peak = self.base

    def now(self):
        return int(proc_status(self.pid)["VmRSS"].split()[0])

    def sample(self):
        self.peak = max(self.peak, self.now())


def pump_all(conns, rss, seconds, trickle=None):
    """Read from every connection for `seconds` (or until all are closed),
    sending one byte of `trickle` a second to each one still open if
    given."""
    end = time.monotonic() + seconds
    pos = 0
    while True:
        for c in conns:
            c.pump()
        rss.sample()
        if all(c.closed for c in conns) or time.monotonic() >= end:
            return
        if trickle is not None:
            b = trickle[pos % len(trickle):pos % len(trickle) + 1]
            pos += 1
            for c in conns:
                if not c.closed:
                    c.send(b)
        time.sleep(min(1.0, max(0.0, end - time.monotonic())))


def well_behaved(gw, sink, subject, sent):
    gw.send("good@outside.example.org", ["user1@example1.com"],
            "Subject: %s\r\n\r\nhi\r\n" % subject)
    sent.append(subject)
    sink.wait_count(len(sent), 20)


def slowloris(t, gw, sink, rss, sent):
    conns = []

    def open_slow():
        for _ in range(SLOW):
            conns.append(Conn(gw.port))
        pump_all(conns, rss, 1)
        banners = sum(1 for c in conns if c.buf.startswith(b"220 "))
        eq(banners, SLOW, "slow clients greeted")
    if not t.case("%d slow clients connected" % SLOW, open_slow):
        return
    try:
        t.case("a well-behaved client is served meanwhile",
               well_behaved, gw, sink, "during slowloris", sent)

        def dropped():
            pump_all(conns, rss, 30, trickle=b"EHLO slow.example.org\r\n")
            gone = [c for c in conns if c.closed]
            timed = [c for c in conns if re.search(
                rb"\r\n421 4\.4\.2 \S+ Error: timeout exceeded\r\n$", c.buf)]
            eq((len(gone), len(timed)), (SLOW, SLOW),
               "slow clients (closed, answered 421 4.4.2)")
        t.case("each slow client gets 421 4.4.2 timeout and is closed",
               dropped)
        t.case("the timeouts are logged", lambda: true(
            gw.log_count(r"timeout after CONNECT from \[127\.0\.0\.1\] "
                         r"\(command not complete in time\)") >= SLOW,
            "fewer than %d 'command not complete in time' lines" % SLOW))
    finally:
        for c in conns:
            c.close()


def slow_data(t, gw, sink, rss, sent, verb):
    """SLOW_DATA clients after DATA (354) or within a BDAT chunk."""
    conns = []
    start, ready = ((b"DATA\r\n", b"\r\n354 ") if verb == "DATA" else
                    (b"BDAT 4000 LAST\r\n", b"\r\n250 2.1.5 "))
    try:
        def start_data():
            for _ in range(SLOW_DATA):
                c = Conn(gw.port)
                c.sock.setblocking(True)
                c.sock.sendall(b"EHLO slow.example.org\r\n"
                               b"MAIL FROM:<slow@outside.example.org>\r\n"
                               b"RCPT TO:<user1@example1.com>\r\n" + start)
                c.sock.setblocking(False)
                conns.append(c)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not all(
                    ready in c.buf for c in conns):
                for c in conns:
                    c.pump()
                time.sleep(0.1)
            eq(sum(1 for c in conns if ready in c.buf), SLOW_DATA,
               "clients past RCPT")
            time.sleep(1)      # BDAT: the message file is being created
        if not t.case("%d clients in %s" % (SLOW_DATA, verb), start_data):
            return

        def dropped():
            pump_all(conns, rss, 30, trickle=b"Subject: slow\r\n\r\nx")
            gone = [c for c in conns if c.closed and re.search(
                rb"\r\n421 4\.4\.2 \S+ Error: timeout exceeded\r\n$",
                c.buf)]
            eq(len(gone), SLOW_DATA, "slow DATA clients answered 421 4.4.2 "
               "and closed")
        t.case("%s: a message trickling in a byte a second gets 421 4.4.2"
               % verb, dropped)
        def logged():
            n = gw.log_count(r"timeout after %s \(\d+ bytes\) from "
                             r"\[127\.0\.0\.1\] \(message slower than "
                             r"500 bytes/s\)" % verb)
            true(n >= SLOW_DATA, "%d slow %s lines, want %d"
                 % (n, verb, SLOW_DATA))
            gw.wait_queue(lambda q: q == [], 10, "empty queue")
            eq(sink.count(), len(sent), "messages at the sink")
        t.case("%s: logged, and the messages are not queued" % verb, logged)
    finally:
        for c in conns:
            c.close()


def flood(t, gw, sink, rss, sent):
    conns = []
    try:
        def connect():
            for _ in range(FLOOD):
                conns.append(Conn(gw.port))
            pump_all(conns, rss, 2)
            greeted = [c for c in conns if c.buf.startswith(b"220 ")]
            refused = [c for c in conns if re.match(
                rb"421 4\.7\.0 \S+ Error: too many connections\r\n", c.buf)]
            eq(len(greeted) + len(refused), FLOOD,
               "connections answered 220 or 421 4.7.0")
            true(len(greeted) <= MAX_SESSIONS,
                 "%d sessions held, max-sessions %d"
                 % (len(greeted), MAX_SESSIONS))
            true(len(refused) >= FLOOD - MAX_SESSIONS,
                 "only %d refused" % len(refused))
        t.case("a flood of %d connections: beyond max-sessions %d they get "
               "421 4.7.0" % (FLOOD, MAX_SESSIONS), connect)

        def idle_dropped():
            pump_all(conns, rss, 30)
            eq(sum(1 for c in conns if not c.closed), 0,
               "flood connections still open")
        t.case("the idle flood connections are closed by the timeout",
               idle_dropped)
        t.case("a well-behaved client is served after the flood",
               well_behaved, gw, sink, "after the flood", sent)
    finally:
        for c in conns:
            c.close()


def non_reader(t, gw, sink, rss, sent):
    c = Conn(gw.port)
    try:
        def stuff():
            chunk = b"EHLO deaf.example.org\r\n" + b"NOOP\r\n" * 10000
            total = 0
            end = time.monotonic() + 6
            while time.monotonic() < end and not c.closed:
                n = c.send(chunk)
                total += n
                rss.sample()
                if n == 0:
                    time.sleep(0.2)
            print("# the deaf client got %d bytes of NOOPs accepted" % total)
            true(total > 0, "nothing sent")
        t.case("a client pipelines NOOPs and never reads", stuff)
        t.case("a well-behaved client is served meanwhile",
               well_behaved, gw, sink, "during the deaf client", sent)

        def dropped():
            gw.wait_log(r"timeout after NOOP from \[127\.0\.0\.1\]", 30)
            end = time.monotonic() + 20
            while time.monotonic() < end:
                if c.send(b"NOOP\r\n" * 1000) == 0 and c.closed:
                    break
                rss.sample()
                time.sleep(0.2)
            true(c.closed, "the deaf client's connection is still open")
        t.case("the deaf client is dropped", dropped)
    finally:
        c.close()


def main():
    t = Tap()
    sink = Sink(mkdtemp("mxgate-sink-")).start()
    gw = Gateway(None, LIMITS + classic_config(), classic_tables(sink.relay))
    sent = []
    try:
        if not t.case("start gateway", gw.start):
            return t.exit()
        rss = RSS(gw)
        print("# smtpd VmRSS at start: %d kB" % rss.base)
        slowloris(t, gw, sink, rss, sent)
        slow_data(t, gw, sink, rss, sent, "DATA")
        slow_data(t, gw, sink, rss, sent, "BDAT")
        flood(t, gw, sink, rss, sent)
        non_reader(t, gw, sink, rss, sent)
        print("# smtpd VmRSS peak: %d kB" % rss.peak)
        t.case("smtpd memory bounded (VmRSS grew by at most %d MB)"
               % (RSS_SLACK_KB // 1024),
               lambda: true(rss.peak - rss.base <= RSS_SLACK_KB,
                            "VmRSS grew from %d to %d kB"
                            % (rss.base, rss.peak)))

        def no_restart():
            st = gw.status()
            eq({w: st[w]["restarts"] for w in WORKERS},
               {w: 0 for w in WORKERS}, "restarts")
            eq(st["smtpd"]["pid"], rss.pid, "smtpd pid")
        t.case("no worker restarted", no_restart)
        t.case("stop gateway cleanly", gw.stop)
    finally:
        gw.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
