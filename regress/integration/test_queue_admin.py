"""Queue administration with smtpctl (issue 7): pause/resume of outgoing
and incoming mail, show queue with filters, show message, show stats,
schedule and remove (a removed message stays removed across a restart
of queued).  retry-min is an hour here, so only `schedule` can make a
deferred message go out again."""

import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import Gateway, HOSTNAME, classic_config  # noqa: E402
from gateway import classic_tables, mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import expect  # noqa: E402
from tap import Tap, eq, true  # noqa: E402

SENDER = "sender@outside.example.org"


def ctl_ok(gw, *args):
    r = gw.ctl(*args)
    if r.returncode != 0:
        raise AssertionError("smtpctl %s: exit %d: %s" % (
            " ".join(args), r.returncode, (r.stderr or r.stdout).strip()))
    return r.stdout


def stats(gw):
    out = {}
    for line in ctl_ok(gw, "show", "stats").splitlines():
        k, _, v = line.partition("=")
        out[k] = v
    return out


def body(subject):
    return ("From: <%s>\r\nTo: <user1@example1.com>\r\nSubject: %s\r\n\r\n"
            "queue admin test\r\n" % (SENDER, subject))


def outgoing(t, gw, sink):
    t.case("pause outgoing", ctl_ok, gw, "pause", "outgoing")
    ids = {}
    for n, rcpt in enumerate(("user1@example1.com", "alice@example1.com",
                              "carol@example2.com")):
        ids[rcpt] = t.case("message %d accepted while outgoing is paused"
                           % (n + 1), gw.send, SENDER, [rcpt],
                           body("msg-%d" % (n + 1)))

    def listed():
        time.sleep(1.5)
        eq(sink.count(), 0, "messages at the sink while paused")
        q = gw.queue()
        eq(sorted(e["to"] for e in q), sorted(ids), "show queue recipients")
        true(all(e["state"] == "queued" for e in q), "states %r" % q)
    t.case("paused: nothing delivered, show queue lists all three", listed)

    def filters():
        out = ctl_ok(gw, "show", "queue", "to", "ALICE@")
        eq(len(out.splitlines()), 1, "lines for to ALICE@: %r" % out)
        true("to=alice@example1.com" in out, "alice's line: %r" % out)
        out = ctl_ok(gw, "show", "queue", "state", "deferred")
        eq(out, "", "deferred entries")
        out = ctl_ok(gw, "show", "queue", "id", ids["carol@example2.com"])
        eq(len(out.splitlines()), 1, "lines for one id: %r" % out)
        out = ctl_ok(gw, "show", "queue", "from", "outside.example",
                     "state", "queued")
        eq(len(out.splitlines()), 3, "lines for from + state: %r" % out)
        r = gw.ctl("show", "queue", "colour", "red")
        true(r.returncode != 0 and "filter" in r.stderr,
             "unknown filter refused: %r" % (r.stderr,))
    t.case("show queue filters: to, state, id, from (case-insensitive)",
           filters)

    def message():
        qid = ids["alice@example1.com"]
        out = ctl_ok(gw, "show", "message", qid)
        true(("id: %s" % qid) in out, "id line: %r" % out)
        true("from: <%s>" % SENDER in out, "from line: %r" % out)
        true(re.search(r"^rcpt: to=alice@example1\.com .*state=queued",
                       out, re.M), "rcpt line: %r" % out)
        true("header: Subject: msg-2" in out, "Subject header: %r" % out)
        true(re.search(r"^header: Received: from client\.test", out, re.M),
             "Received header: %r" % out)
        true("queue admin test" not in out, "the body is not shown")
        r = gw.ctl("show", "message", "0123456789AB")
        true(r.returncode != 0 and "no such message" in r.stderr,
             "unknown id: %r" % (r.stderr,))
    t.case("show message: envelope and headers, not the body", message)

    def stats_paused():
        s = stats(gw)
        eq(s.get("queue.messages"), "3", "queue.messages")
        eq(s.get("queue.recipients.queued"), "3", "recipients queued")
        eq(s.get("total.accepted"), "3", "total.accepted")
        eq(s.get("rate.accepted_last_minute"), "3", "accepted last minute")
        eq(s.get("outgoing"), "paused", "outgoing")
        eq(s.get("incoming"), "running", "incoming")
    t.case("show stats while paused", stats_paused)

    removed = ids["carol@example2.com"]

    def remove():
        out = ctl_ok(gw, "remove", removed)
        true("1 message(s) removed" in out, "remove output: %r" % out)
        q = gw.queue()
        true(all(e["msgid"] != removed for e in q), "still listed: %r" % q)
        spooled = os.listdir(os.path.join(gw.spool, "queue"))
        true(not any(f.startswith(removed) for f in spooled),
             "files left in the spool: %r" % spooled)
        gw.wait_log(removed + r": removed by the administrator")
    t.case("remove ID: gone from show queue, the spool and logged", remove)

    def stays_removed():
        pid = gw.status()["queued"]["pid"]
        os.kill(pid, signal.SIGKILL)
        gw.wait_status(lambda s: s["queued"]["pid"] != pid and
                       s["queued"]["pid"] > 0, 15, "queued restarted")
        q = gw.wait_queue(lambda q: len(q) == 2, 10, "two messages back")
        true(all(e["msgid"] != removed for e in q), "came back: %r" % q)
    t.case("a removed message stays removed after queued restarts",
           stays_removed)

    def still_paused():
        time.sleep(1.5)
        eq(sink.count(), 0, "messages at the sink after the restart")
        eq(stats(gw).get("outgoing"), "paused", "outgoing")
    t.case("the pause outlives the restart of queued", still_paused)

    def resume():
        ctl_ok(gw, "resume", "outgoing")
        sink.wait_rcpts(2, 15)
        time.sleep(1)
        eq(sorted(sink.recipients()),
           ["alice@example1.com", "user1@example1.com"], "delivered")
        gw.wait_queue(lambda q: q == [], 5, "empty queue")
        eq(stats(gw).get("total.delivered"), "2", "total.delivered")
    t.case("resume outgoing: the two remaining delivered, not the removed "
           "one", resume)


def schedule(t, gw, down):
    qid = t.case("message to a next hop that is down", gw.send, SENDER,
                 ["user1@example2.com"], body("scheduled"))

    def deferred():
        q = gw.wait_queue(lambda q: any(e["state"] == "deferred"
                                        for e in q), 15, "deferred")
        e = [e for e in q if e["msgid"] == qid][0]
        true(e["next"] > 600, "next try in about an hour: %r" % e)
    t.case("deferred with its next try an hour away", deferred)
    t.case("the next hop comes up", down.start)

    def scheduled():
        time.sleep(1)
        eq(down.count(), 0, "delivered before schedule")
        out = ctl_ok(gw, "schedule", qid)
        true("1 recipient(s) scheduled" in out, "output %r" % out)
        down.wait_count(1, 15)
        gw.wait_queue(lambda q: q == [], 5, "empty queue")
    t.case("schedule ID: delivered at once", scheduled)

    def bad():
        r = gw.ctl("schedule", "nonsense")
        true(r.returncode != 0, "schedule nonsense accepted")
        r = gw.ctl("remove", "0123456789AB")
        true(r.returncode != 0 and "no such message" in r.stderr,
             "remove unknown id: %r" % (r.stderr,))
        r = gw.ctl("pause", "sideways")
        true(r.returncode == 2 and "incoming, outgoing" in r.stderr,
             "pause sideways: %r" % (r.stderr,))
    t.case("bad ids and words get a clear error", bad)


def incoming(t, gw):
    held = gw.client()
    expect(held.banner(), 220, what="banner")
    expect(held.cmd("EHLO client.test"), 250, what="EHLO")
    t.case("pause incoming", ctl_ok, gw, "pause", "incoming")

    def refused():
        deadline = time.monotonic() + 5
        while True:
            with gw.client() as c:
                rep = c.reply()
                if rep.code == 421:
                    break
            if time.monotonic() > deadline:
                raise AssertionError("still accepting: %r" % rep.last)
            time.sleep(0.1)
        eq(rep.last, "421 4.3.2 %s Service temporarily unavailable, try "
           "again later" % HOSTNAME, "banner while paused")
    t.case("paused: a new connection gets 421 4.3.2", refused)
    t.case("paused: MAIL in an open session gets 451 4.3.2", lambda: expect(
        held.cmd("MAIL FROM:<%s>" % SENDER), 451, what="MAIL"))
    t.case("show stats says incoming=paused",
           lambda: eq(stats(gw).get("incoming"), "paused", "incoming"))
    t.case("resume incoming", ctl_ok, gw, "resume", "incoming")

    def accepted():
        deadline = time.monotonic() + 5
        while True:
            rep = held.cmd("MAIL FROM:<%s>" % SENDER)
            if rep.code == 250:
                break
            if time.monotonic() > deadline:
                raise AssertionError("MAIL still refused: %r" % rep.last)
            time.sleep(0.1)
        held.cmd("RSET")
        gw.send(SENDER, ["user1@example1.com"], body("after resume"))
    t.case("resumed: MAIL accepted and a message queued", accepted)
    held.close()


def main():
    t = Tap()
    sink = Sink(mkdtemp("mxgate-sink-"))
    down = Sink(mkdtemp("mxgate-sink-"))    # port reserved, not started
    conf = (classic_config().replace("queue retry-min 1s",
                                     "queue retry-min 1h")
            .replace("queue retry-max 2s", "queue retry-max 2h"))
    gw = Gateway(None, conf, classic_tables(sink.relay, down.relay))
    try:
        t.case("start sink", sink.start)
        if not t.case("start gateway", gw.start):
            return t.exit()
        outgoing(t, gw, sink)
        schedule(t, gw, down)
        incoming(t, gw)
        t.case("gateway stops cleanly", gw.stop)
    finally:
        gw.cleanup()
        sink.cleanup()
        down.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
