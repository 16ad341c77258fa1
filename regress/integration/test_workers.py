"""A kill -9 of each worker: the parent logs how it died and restarts it
(show status: new pid, restarts=1); a message sent afterwards is accepted
and delivered; a message queued before the kill of queued is not lost."""

import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import WORKERS, classic, mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from tap import Tap, eq  # noqa: E402


def main():
    t = Tap()
    sink = Sink(mkdtemp("mxgate-sink-")).start()
    gw = classic(sink.relay)
    try:
        if not t.case("start gateway", gw.start):
            return t.exit()
        sent = 0
        for name in WORKERS:
            if name == "queued":
                def park():
                    nonlocal sent
                    sink.stop()
                    gw.send("a@outside.example.org", ["user1@example1.com"],
                            "Subject: queued before the kill\r\n\r\nhi\r\n")
                    sent += 1
                    gw.wait_queue(lambda q: len(q) == 1, 10, "one entry")
                t.case("queued: a message waits in the queue", park)

            def kill(name=name):
                old = gw.status()[name]["pid"]
                mark = gw.mark()
                os.kill(old, signal.SIGKILL)
                gw.wait_log(r"(?i)^.*\b(%s|%d)\b.*\b(signal 9|SIGKILL|killed)"
                            % (name, old), 10, since=mark)
                return old
            old = t.case("%s: kill -9 is logged with the signal" % name, kill)
            if not old:
                continue

            def restarted(name=name, old=old):
                gw.wait_status(lambda s: s[name]["pid"] != old
                               and s[name]["restarts"] == 1, 10,
                               "%s restarted once" % name)
            t.case("%s: restarted (new pid, restarts=1)" % name, restarted)
            if name == "queued":
                t.case("queued: sink back up", sink.start)
                t.case("queued: the waiting message is delivered once",
                       lambda: sink.wait_count(sent, 20))

            def works(name=name):
                nonlocal sent
                gw.send("a@outside.example.org", ["user1@example1.com"],
                        "Subject: after killing %s\r\n\r\nhi\r\n" % name)
                sent += 1
                sink.wait_count(sent, 20)
            t.case("%s: a new message is accepted and delivered" % name,
                   works)
        st = gw.status()
        print("# restarts after all kills: %s" % ", ".join(
            "%s=%d" % (n, st[n]["restarts"]) for n in sorted(st)))
        t.case("each worker restarted exactly once",
               lambda: eq({n: st[n]["restarts"] for n in WORKERS},
                          {n: 1 for n in WORKERS}, "restarts"))
        t.case("no message delivered twice",
               lambda: eq(sink.count(), sent, "messages at the sink"))
        t.case("stop gateway cleanly", gw.stop)
    finally:
        gw.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
