"""A corrupt or unreadable spool, at start and while running: the file
goes to <spool>/corrupt/ with a log line naming the queue id and why, the
daemon keeps going, and the good messages beside it are delivered.

At start: an envelope of garbage, an envelope that is a symbolic link
(not followed), a committed message whose message file was truncated.  While running: a deferred message's file truncated, another
one's made unreadable -- found when the scheduler hands them to mtad."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import classic, is_root, mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from tap import Tap, eq, true  # noqa: E402

GARBAGE_ID = "ABCDEF012345"
UNREADABLE_ID = "ABCDEF012346"


def files(gw, d):
    p = os.path.join(gw.spool, d)
    return sorted(os.listdir(p)) if os.path.isdir(p) else []


def queue_one(gw, subject):
    return gw.send("a@outside.example.org", ["user1@example1.com"],
                   "Subject: %s\r\n\r\nhi\r\n" % subject)


def truncate(gw, qid):
    p = os.path.join(gw.spool, "queue", qid + ".msg")
    with open(p, "r+b") as f:
        f.truncate(os.path.getsize(p) // 2)


def subjects(sink):
    return sorted(re.search(r"(?m)^Subject: (.*)$", m["data"]).group(1)
                  .strip() for m in sink.messages())


def at_start(t, gw, sink):
    ids = {}

    def plant():
        gw.start()
        ids["good"] = queue_one(gw, "good at start")
        ids["short"] = queue_one(gw, "truncated at start")
        gw.stop()
        q = os.path.join(gw.spool, "queue")
        truncate(gw, ids["short"])
        with open(os.path.join(q, GARBAGE_ID + ".env"), "w") as f:
            f.write("this is not an envelope\n\x00\x01\n")
        with open(os.path.join(q, GARBAGE_ID + ".msg"), "w") as f:
            f.write("Subject: garbage\r\n\r\nhi\r\n")
        # queued reads the spool at start before it drops privileges:
        # a symbolic link is what it must refuse to read then
        os.symlink("/etc/passwd", os.path.join(q, UNREADABLE_ID + ".env"))
    if not t.case("two messages queued, the spool damaged, daemon stopped",
                  plant):
        return
    if not t.case("daemon starts on the damaged spool", gw.start):
        return
    for qid, why in ((GARBAGE_ID, r"[^)]+"), (ids["short"],
                                              "message file size differs")):
        t.case("%s: logged as corrupt and quarantined" % qid, lambda qid=qid,
               why=why: gw.wait_log(r"%s: corrupt envelope \(%s\), moved to "
                                    r"corrupt/" % (qid, why), 10))
    t.case("an envelope that is a symbolic link is not followed, but "
           "quarantined", lambda: gw.wait_log(
               r"%s: corrupt envelope \(cannot read\), moved to corrupt/"
               % UNREADABLE_ID, 10))

    def moved():
        c = files(gw, "corrupt")
        for name in (GARBAGE_ID + ".env", GARBAGE_ID + ".msg",
                     UNREADABLE_ID + ".env",
                     ids["short"] + ".env", ids["short"] + ".msg"):
            true(name in c, "corrupt/ lacks %s: %r" % (name, c))
        eq([e["msgid"] for e in gw.queue()], [ids["good"]], "show queue")
    t.case("the damaged files are in corrupt/, the good message queued",
           moved)
    t.case("sink up", sink.start)
    t.case("the good message is delivered", lambda: (
        sink.wait_count(1, 20),
        eq(subjects(sink), ["good at start"], "subjects at the sink")))
    sink.stop()


def while_running(t, gw, sink):
    ids = {}

    def park():
        for name in ("short", "unreadable", "good"):
            ids[name] = queue_one(gw, "%s while running" % name)
        gw.wait_queue(lambda q: len(q) == 3 and all(
            e["state"] == "deferred" for e in q), 15, "three deferred")
    if not t.case("three messages deferred while the sink is down", park):
        return
    mark = gw.mark()

    def damage():
        truncate(gw, ids["short"])
        os.chmod(os.path.join(gw.spool, "queue", ids["unreadable"] + ".msg"),
                 0)
    t.case("one message file truncated, one made unreadable", damage)
    t.case("truncated: size mismatch logged, quarantined", lambda: (
        gw.wait_log(r"%s: message file has \d+ bytes, expected \d+"
                    % ids["short"], 15, since=mark),
        gw.wait_log(r"%s: message file unusable, moved to corrupt/ with its "
                    r"envelope" % ids["short"], 15, since=mark)))
    if is_root():
        t.case("unreadable: open error logged, quarantined", lambda: (
            gw.wait_log(r"%s: open message file: Permission denied"
                        % ids["unreadable"], 15, since=mark),
            gw.wait_log(r"%s: message file unusable, moved to corrupt/"
                        % ids["unreadable"], 15, since=mark)))
    else:
        t.skip("unreadable: quarantined", "not root")

    def listed():
        q = gw.wait_queue(lambda q: len(q) == 1, 15, "one entry left")
        eq([e["msgid"] for e in q], [ids["good"]], "show queue")
        c = files(gw, "corrupt")
        for name in (ids["short"] + ".env", ids["short"] + ".msg"):
            true(name in c, "corrupt/ lacks %s: %r" % (name, c))
    t.case("only the good message is left in the queue", listed)
    t.case("sink up again", sink.start)
    t.case("the good message is delivered, the damaged ones are not",
           lambda: (sink.wait_count(2, 20), eq(
               subjects(sink), ["good at start", "good while running"],
               "subjects at the sink")))
    t.case("the daemon kept going: no worker restarted", lambda: eq(
        {n: s["restarts"] for n, s in gw.status().items()
         if n != "parent"},
        {"smtpd": 0, "lookupd": 0, "queued": 0, "mtad": 0}, "restarts"))


def main():
    t = Tap()
    sink = Sink(mkdtemp("mxgate-sink-"))        # down for now
    gw = classic(sink.relay)
    try:
        at_start(t, gw, sink)
        if gw.running():
            while_running(t, gw, sink)
        t.case("stop gateway cleanly", gw.stop)
    finally:
        gw.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
