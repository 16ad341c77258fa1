"""kill -9 under load: several clients send a stream of messages while
the test SIGKILLs a random worker (smtpd, lookupd, queued, mtad) at
random moments, a bounded number of times.  Afterwards every message that
got "250 ... queued as ID" is at the sink (matched by its unique
Subject), a message that arrives twice has a logged reason (queued's
"delivery interrupted: link to mtad lost" or "recovered from the spool"
for its queue id), the parent is still there with all four workers, and
the spool holds nothing once everything is delivered: no envelope, no
uncommitted message, nothing quarantined."""

import os
import random
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import WORKERS, classic, mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from tap import Tap, eq, true  # noqa: E402

CLIENTS = 4
KILLS = 120                 # in all; about one every half second
KILL_PAUSE = (0.15, 0.8)    # seconds between kills, uniformly drawn
RNG = random.Random(int(os.environ.get("MXGATE_SEED", "0")) or None)


class Load:
    """CLIENTS threads sending one message per connection until stopped;
    accepted[subject] = queue id for every 250, attempts counted."""

    def __init__(self, gw):
        self.gw = gw
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.accepted = {}
        self.attempts = 0
        self.failures = 0
        self.threads = [threading.Thread(target=self.run, args=(i,),
                                         daemon=True)
                        for i in range(CLIENTS)]

    def start(self):
        for th in self.threads:
            th.start()

    def finish(self):
        self.stop.set()
        for th in self.threads:
            th.join(60)

    def one(self, subject):
        with self.gw.client(timeout=10) as c:
            if c.banner().code != 220 or c.cmd("EHLO load.test").code != 250:
                return None
            if c.cmd("MAIL FROM:<load@outside.example.org>").code != 250:
                return None
            if c.cmd("RCPT TO:<user1@example1.com>").code != 250:
                return None
            if c.cmd("DATA").code != 354:
                return None
            rep = c.data("Message-ID: <%s@crash.test>\r\nSubject: %s\r\n"
                         "\r\nunder load\r\n" % (subject, subject),
                         timeout=20)
            m = re.match(r"^250 2\.0\.0 Ok: queued as (\S+)$", rep.last)
            try:
                c.cmd("QUIT", timeout=2)
            except Exception:
                pass
            return m.group(1) if m else None

    def run(self, i):
        n = 0
        while not self.stop.is_set():
            n += 1
            subject = "load-%d-%d-%06x" % (i, n, RNG.getrandbits(24))
            try:
                qid = self.one(subject)
            except Exception:
                qid = None
            with self.lock:
                self.attempts += 1
                if qid:
                    self.accepted[subject] = qid
                else:
                    self.failures += 1
            # a steady stream, not a benchmark: the machine is shared
            time.sleep(0.02 if qid else 0.1)


def killer(gw, counts):
    """KILLS SIGKILLs of random running workers; returns when done."""
    done = 0
    deadline = time.monotonic() + 150
    while done < KILLS and time.monotonic() < deadline:
        time.sleep(RNG.uniform(*KILL_PAUSE))
        try:
            st = gw.status()
        except Exception:
            continue
        up = [w for w in WORKERS if st.get(w, {}).get("pid")]
        # mostly workers in service; now and then one just restarted
        settled = [w for w in up if st[w]["uptime"] >= 2]
        pick = settled if settled and RNG.random() < 0.9 else up
        if not pick:
            continue
        w = RNG.choice(pick)
        try:
            os.kill(st[w]["pid"], signal.SIGKILL)
        except OSError:
            continue
        counts[w] = counts.get(w, 0) + 1
        done += 1
    return done


def subjects(sink):
    out = {}
    for m in sink.messages():
        s = re.search(r"(?m)^Subject: (\S+)", m["data"])
        if s:
            out[s.group(1)] = out.get(s.group(1), 0) + 1
    return out


def queue_ids(sink):
    """subject -> the queue id in our Received: field, for messages the
    client never heard 250 for (smtpd killed after the commit)."""
    out = {}
    for m in sink.messages():
        s = re.search(r"(?m)^Subject: (\S+)", m["data"])
        q = re.search(r"\(mxgate\)[^;]*? id ([0-9A-Za-z]+)", m["data"])
        if s and q:
            out[s.group(1)] = q.group(1)
    return out


def main():
    t = Tap()
    sink = Sink(mkdtemp("mxgate-sink-")).start()
    gw = classic(sink.relay)
    load = Load(gw)
    try:
        if not t.case("start gateway", gw.start):
            return t.exit()
        load.start()
        counts = {}
        done = t.case("%d kills of random workers under load" % KILLS,
                      lambda: eq(killer(gw, counts), KILLS, "kills made"))
        print("# kills: %s" % ", ".join("%s=%d" % kv
                                         for kv in sorted(counts.items())))
        t.case("every worker back up, the parent still there",
               lambda: gw.wait_status(
                   lambda s: all(s[w]["pid"] for w in WORKERS), 60,
                   "all workers up"))

        def more():
            before = len(load.accepted)
            deadline = time.monotonic() + 20
            while len(load.accepted) < before + CLIENTS and \
                    time.monotonic() < deadline:
                time.sleep(0.2)
            true(len(load.accepted) >= before + CLIENTS,
                 "clients are not served after the kills")
        t.case("clients are served again after the kills", more)
        load.finish()
        print("# attempts %d, accepted %d, not accepted %d"
              % (load.attempts, len(load.accepted), load.failures))
        if not done:
            return t.exit()
        accepted = dict(load.accepted)

        def all_delivered():
            deadline = time.monotonic() + 90
            while True:
                got = subjects(sink)
                missing = [s for s in accepted if s not in got]
                if not missing:
                    return
                if time.monotonic() > deadline:
                    raise AssertionError(
                        "%d accepted message(s) never arrived, e.g. %s"
                        % (len(missing), ", ".join(
                            "%s (queue id %s)" % (s, accepted[s])
                            for s in missing[:5])))
                time.sleep(0.5)
        t.case("every message answered 250 arrived at the sink",
               all_delivered)
        t.case("queue empty", lambda: gw.wait_queue(lambda q: q == [], 90,
                                                   "empty queue"))

        def duplicates():
            log = gw.log()
            unexplained = []
            ids = queue_ids(sink)
            for s, n in subjects(sink).items():
                if n < 2:
                    continue
                qid = accepted.get(s) or ids.get(s)
                if qid is None or not re.search(
                        r"%s: (to=<[^>]*>, status=deferred \(delivery "
                        r"interrupted|recovered from the spool)" % qid, log):
                    unexplained.append("%s x%d (queue id %s)" % (s, n, qid))
            print("# delivered twice (explained): %d" % sum(
                1 for n in subjects(sink).values() if n > 1))
            eq(unexplained, [], "duplicates without a logged reason")
        t.case("a message delivered twice has a logged reason", duplicates)

        def spool_clean():
            left = {d: sorted(os.listdir(os.path.join(gw.spool, d)))
                    for d in ("queue", "corrupt")
                    if os.path.isdir(os.path.join(gw.spool, d))}
            eq(left, {"queue": [], "corrupt": []}, "files left in the spool")
        t.case("nothing left in the spool", spool_clean)
        t.case("stop gateway cleanly", gw.stop)
    finally:
        load.stop.set()
        gw.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
