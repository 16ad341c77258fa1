"""Postfix's smtp-source sends 200 messages over 5 parallel sessions (several
transactions per connection) to a valid recipient; the sink gets exactly
200 and the queue drains."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import classic, mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from tap import Failure, Tap, eq  # noqa: E402

SMTP_SOURCE = "/usr/sbin/smtp-source"
COUNT = 200
SESSIONS = 5


def main():
    t = Tap()
    if not os.access(SMTP_SOURCE, os.X_OK):
        t.not_ok("smtp-source", "%s not installed (postfix package; "
                 "sh .ci/deps test)" % SMTP_SOURCE)
        return t.exit()
    sink = Sink(mkdtemp("mxgate-sink-")).start()
    gw = classic(sink.relay)
    try:
        if not t.case("start gateway", gw.start):
            return t.exit()

        def source():
            start = time.monotonic()
            r = subprocess.run(
                [SMTP_SOURCE, "-s", str(SESSIONS), "-m", str(COUNT), "-d",
                 "-M", "client.test", "-f", "source@outside.example.org",
                 "-t", "user1@example1.com", "-S", "smtp-source test",
                 "-l", "2000", "127.0.0.1:%d" % gw.port],
                capture_output=True, text=True, timeout=120,
                stdin=subprocess.DEVNULL)
            if r.returncode != 0:
                raise Failure("smtp-source exit %d: %s"
                              % (r.returncode, (r.stderr or r.stdout)[-300:]),
                              gw.log_tail(20))
            print("# smtp-source: %d messages in %.1fs"
                  % (COUNT, time.monotonic() - start), flush=True)
        t.case("smtp-source: %d messages over %d sessions accepted"
               % (COUNT, SESSIONS), source)
        t.case("log: %d queued lines" % COUNT, lambda: eq(
            gw.log_count(r": from=<source@outside\.example\.org>, size=\d+, "
                         r"nrcpt=1"), COUNT, "queued lines"))

        def arrived():
            start = time.monotonic()
            sink.wait_count(COUNT, 90)
            print("# all %d at the sink %.1fs after smtp-source ended"
                  % (COUNT, time.monotonic() - start), flush=True)
        t.case("sink gets %d messages" % COUNT, arrived)

        def exactly():
            time.sleep(2)
            msgs = sink.messages()
            eq(len(msgs), COUNT, "messages at the sink")
            eq({tuple(m["rcpt_to"]) for m in msgs},
               {("user1@example1.com",)}, "recipients")
            eq({m["mail_from"] for m in msgs}, {"source@outside.example.org"},
               "senders")
        t.case("exactly %d, right envelope" % COUNT, exactly)
        t.case("queue empty", lambda: gw.wait_queue(lambda q: q == [], 10,
                                                    "empty queue"))
        t.case("stop gateway cleanly", gw.stop)
    finally:
        gw.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
