"""Delivery status notifications (RFC 3464, RFC 3461) and the ESMTP
parameters that feed them.

Two sinks: one for example1.com that refuses alice@ and bob@ permanently
(550 5.1.1) and testadmin@ temporarily (451 4.2.0), one for example2.com,
where the envelope sender carol@example2.com lives: every DSN must land
there, from <>, through the transport table like any other message.  Each
case sends its own ENVID so that its DSN is found by Original-Envelope-Id,
and parses it with Python's email package: multipart/report;
report-type=delivery-status, the per-message and per-recipient fields,
and what RET asked to be returned.  Also: NOTIFY=NEVER and a message from
<> get no DSN (each waits for the log line saying so), a message whose
recipients both fail gets one DSN, a delay warning and an expiry (Status
4.4.7) with `queue delay-warning 2s` / `queue lifetime 8s`, a success DSN
(Action: relayed), and the session's answers to good and bad parameters
(EHLO keywords, 501 5.5.4, 555 5.5.4, SMTPUTF8 with a UTF-8 address)."""

import email
import email.policy
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import (HOSTNAME, Gateway, classic_config,  # noqa: E402
                     classic_tables, mkdtemp)
from sink import Sink  # noqa: E402
from smtp import expect  # noqa: E402
from tap import Failure, Tap, eq, true  # noqa: E402

SENDER = "carol@example2.com"

CONFIG_EXTRA = """\
queue lifetime 8s
queue delay-warning 2s
"""


def transaction(gw, mail, rcpts, subject, body="the body text\r\n"):
    """MAIL with its parameters, RCPTs (address, parameters), DATA; the
    queue id.  mail and rcpts are the argument text after the colon."""
    msg = ("From: <%s>\r\nTo: <user1@example1.com>\r\nSubject: %s\r\n\r\n%s"
           % (SENDER, subject, body))
    with gw.client() as c:
        try:
            expect(c.banner(), 220, what="banner")
            expect(c.cmd("EHLO client.test"), 250, what="EHLO")
            expect(c.cmd("MAIL FROM:" + mail), 250, what="MAIL " + mail)
            for r in rcpts:
                expect(c.cmd("RCPT TO:" + r), 250, what="RCPT " + r)
            expect(c.cmd("DATA"), 354, what="DATA")
            rep = expect(c.data(msg), 250, what="end of data")
            c.cmd("QUIT")
        except AssertionError as e:
            raise Failure(str(e), "\n".join(c.transcript[-20:]) + "\n"
                          + gw.log_tail(20)) from None
    return re.match(r"^250 2\.0\.0 Ok: queued as (\S+)$", rep.last).group(1)


def parse(m):
    return email.message_from_string(m["data"], policy=email.policy.compat32)


def envid_of(msg):
    if msg.get_content_type() != "multipart/report":
        return None
    status = msg.get_payload()[1].get_payload()
    return status[0].get("Original-Envelope-Id")


def dsns_for(sink, envid):
    return [(m, parse(m)) for m in sink.messages()
            if envid_of(parse(m)) == envid]


def wait_dsns(sink, envid, n, timeout=20.0):
    """The n DSNs with this ENVID (at least n; more is checked by caller)."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        got = dsns_for(sink, envid)
        if len(got) >= n:
            return got
        if time.monotonic() >= deadline:
            raise Failure("expected %d DSN(s) with ENVID %s within %gs, got %d"
                          % (n, envid, timeout, len(got)))
        time.sleep(0.1)


def report(msg):
    """(per-message fields, [per-recipient fields], returned part)."""
    eq(msg.get_content_type(), "multipart/report", "Content-Type")
    eq(msg.get_param("report-type"), "delivery-status", "report-type")
    parts = msg.get_payload()
    eq(len(parts), 3, "parts of the report")
    eq(parts[0].get_content_type(), "text/plain", "first part")
    eq(parts[1].get_content_type(), "message/delivery-status", "second part")
    blocks = parts[1].get_payload()
    true(len(blocks) >= 2, "delivery-status has no recipient block")
    return blocks[0], blocks[1:], parts[2]


def by_final(rcpts):
    return {r["Final-Recipient"].split(";", 1)[1].strip(): r for r in rcpts}


def check_envelope(m):
    eq(m["mail_from"], "", "MAIL FROM of the DSN (null sender)")
    eq(m["rcpt_to"], [SENDER], "RCPT TO of the DSN")


def check_failure_full(sink1, sink2, gw, qid):
    (m, msg), = wait_dsns(sink2, "case-full", 1)
    check_envelope(m)
    eq(msg["To"], "<%s>" % SENDER, "To: header")
    true(msg["From"].startswith("MAILER-DAEMON@%s" % HOSTNAME),
         "From: %r" % msg["From"])
    eq(msg["Auto-Submitted"], "auto-replied", "Auto-Submitted")
    head, rcpts, orig = report(msg)
    eq(head["Reporting-MTA"], "dns; %s" % HOSTNAME, "Reporting-MTA")
    true(head["Arrival-Date"], "no Arrival-Date")
    eq(head["X-Mxgate-Queue-ID"], qid, "queue id in the report")
    r = by_final(rcpts)
    eq(sorted(r), ["alice@example1.com", "bob@example1.com"],
       "Final-Recipients (one DSN for both failures, none for user1)")
    a, b = r["alice@example1.com"], r["bob@example1.com"]
    for x in (a, b):
        eq(x["Action"], "failed", "Action")
        eq(x["Status"], "5.1.1", "Status")
        true(re.match(r"^smtp; 550 5\.1\.1 .*test sink permfail",
                      x["Diagnostic-Code"] or ""),
             "Diagnostic-Code: %r" % x["Diagnostic-Code"])
    eq(a["Original-Recipient"], "rfc822;alice+orig@example1.com",
       "Original-Recipient from ORCPT (xtext decoded)")
    eq(b["Original-Recipient"], None, "Original-Recipient without ORCPT")
    eq(orig.get_content_type(), "message/rfc822", "RET=FULL returned part")
    inner = orig.get_payload()[0]
    eq(inner["Subject"], "dsn full", "Subject of the returned message")
    true("the body text" in inner.get_payload(),
         "RET=FULL: body not returned")
    mine = [x for x in sink1.wait_count(1) if "Subject: dsn full" in x["data"]]
    eq([x["rcpt_to"] for x in mine], [["user1@example1.com"]],
       "the good recipient was delivered, once")


def check_failure_hdrs(sink2):
    (m, msg), = wait_dsns(sink2, "case-hdrs", 1)
    check_envelope(m)
    _, rcpts, orig = report(msg)
    eq(list(by_final(rcpts)), ["alice@example1.com"], "Final-Recipient")
    eq(orig.get_content_type(), "text/rfc822-headers",
       "RET=HDRS returned part")
    text = orig.get_payload()
    true("Subject: dsn hdrs" in text, "headers not returned: %r" % text)
    true("the body text" not in text, "RET=HDRS returned the body")


def main():
    t = Tap()
    # both announce SMTPUTF8: mtad refuses to relay a message that needs
    # it (5.6.7) to a server that does not
    sink1 = Sink(mkdtemp("mxgate-sink-"),
                 permfail=["alice@example1.com", "bob@example1.com"],
                 tempfail=["testadmin@example1.com"], smtputf8=True)
    sink2 = Sink(mkdtemp("mxgate-sink-"), smtputf8=True)
    gw = Gateway(None, classic_config() + CONFIG_EXTRA,
                 classic_tables(sink1.relay, sink2.relay))
    try:
        if not t.case("start sinks and gateway",
                      lambda: (sink1.start(), sink2.start(), gw.start())):
            return t.exit()

        def ehlo():
            with gw.client() as c:
                c.banner()
                kw = expect(c.cmd("EHLO client.test"), 250).keywords()
                for k in ("8BITMIME", "SMTPUTF8", "DSN"):
                    true(k in kw, "EHLO lacks %s: %r" % (k, kw))
        t.case("EHLO offers 8BITMIME, SMTPUTF8 and DSN", ehlo)

        def params():
            cases = [
                ("MAIL FROM:<%s> RET=SOME" % SENDER, "501 5.5.4"),
                ("MAIL FROM:<%s> ENVID=a+zz" % SENDER, "501 5.5.4"),
                ("MAIL FROM:<%s> RET=FULL RET=HDRS" % SENDER, "501 5.5.4"),
                ("MAIL FROM:<%s> SMTPUTF8=yes" % SENDER, "501 5.5.4"),
                ("MAIL FROM:<%s> X-FOO=1" % SENDER, "555 5.5.4"),
                ("MAIL FROM:<j\u00f6rg@example2.com>", "553 5.6.7"),
                (b"MAIL FROM:<j\xf6rg@example2.com> SMTPUTF8", "501 5.1.7"),
            ]
            with gw.client() as c:
                c.banner()
                c.cmd("EHLO client.test")
                for line, want in cases:
                    r = c.cmd(line)
                    true(r.last.startswith(want),
                         "%s: got %r, want %s" % (line, r.last, want))
                expect(c.cmd("MAIL FROM:<%s> BODY=8BITMIME RET=HDRS "
                             "ENVID=x+2By" % SENDER), 250, what="MAIL ok")
                rc = [("RCPT TO:<user1@example1.com> NOTIFY=NEVER,SUCCESS",
                       "501 5.5.4"),
                      ("RCPT TO:<user1@example1.com> NOTIFY=OFTEN",
                       "501 5.5.4"),
                      ("RCPT TO:<user1@example1.com> ORCPT=user1@example1.com",
                       "501 5.5.4"),
                      ("RCPT TO:<user1@example1.com> ORCPT=rfc822;a+0Db",
                       "501 5.5.4"),
                      ("RCPT TO:<user1@example1.com> RET=FULL", "555 5.5.4"),
                      ("RCPT TO:<user1@example1.com> NOTIFY=SUCCESS,DELAY "
                       "ORCPT=rfc822;user1+40example1.com", "250 2.1.5")]
                for line, want in rc:
                    r = c.cmd(line)
                    true(r.last.startswith(want),
                         "%s: got %r, want %s" % (line, r.last, want))
                c.cmd("QUIT")
        t.case("MAIL/RCPT parameters: good accepted, bad 501/555", params)

        def utf8():
            qid = transaction(gw, "<j\u00f6rg@example2.com> SMTPUTF8",
                              ["<user1@example1.com>"], "utf8")
            gw.wait_log(r"%s: to=<user1@example1\.com>.*status=sent" % qid)
        t.case("SMTPUTF8: a UTF-8 sender is accepted and relayed", utf8)

        qid_full = t.case("failing message with RET=FULL accepted",
                          transaction, gw,
                          "<%s> RET=FULL ENVID=case-full" % SENDER,
                          ["<alice@example1.com> NOTIFY=FAILURE "
                           "ORCPT=rfc822;alice+2Borig@example1.com",
                           "<bob@example1.com>",
                           "<user1@example1.com>"], "dsn full")
        t.case("failure DSN: fields, ORCPT, one DSN for two failures, "
               "RET=FULL", check_failure_full, sink1, sink2, gw, qid_full)
        t.case("failing message with RET=HDRS accepted", transaction, gw,
               "<%s> RET=HDRS ENVID=case-hdrs" % SENDER,
               ["<alice@example1.com>"], "dsn hdrs")
        t.case("failure DSN with RET=HDRS returns the headers only",
               check_failure_hdrs, sink2)

        def never():
            qid = transaction(gw, "<%s> ENVID=case-never" % SENDER,
                              ["<alice@example1.com> NOTIFY=NEVER"],
                              "never")
            gw.wait_log(r"%s: NOTIFY asks for no non-delivery" % qid)
            gw.wait_log(r"%s: removed" % qid)
            eq(dsns_for(sink2, "case-never"), [], "DSNs for NOTIFY=NEVER")
        t.case("NOTIFY=NEVER: no DSN", never)

        def null_sender():
            qid = transaction(gw, "<>", ["<alice@example1.com>"], "from null")
            gw.wait_log(r"%s: from=<>: no non-delivery notification to "
                        r"the null sender" % qid)
            gw.wait_log(r"%s: removed" % qid)
            true(all("Subject: from null" not in m["data"]
                     for m in sink2.messages()),
                 "a DSN was sent for a message from <>")
        t.case("a failing message from <> gets no DSN", null_sender)

        def success():
            transaction(gw, "<%s> ENVID=case-success" % SENDER,
                        ["<user1@example1.com> NOTIFY=SUCCESS"], "success")
            (m, msg), = wait_dsns(sink2, "case-success", 1)
            check_envelope(m)
            _, rcpts, orig = report(msg)
            r = by_final(rcpts)["user1@example1.com"]
            eq(r["Action"], "relayed", "Action")
            eq(r["Status"], "2.0.0", "Status")
            eq(orig.get_content_type(), "text/rfc822-headers",
               "returned part of a success DSN without RET")
        t.case("NOTIFY=SUCCESS: a success DSN (Action: relayed)", success)

        def delay_and_expiry():
            qid = transaction(gw, "<%s> ENVID=case-delay" % SENDER,
                              ["<testadmin@example1.com>"], "delayed")
            dsns = wait_dsns(sink2, "case-delay", 2, timeout=30)
            eq(len(dsns), 2, "DSNs for the delayed, then expired message")
            actions = []
            for m, msg in dsns:
                check_envelope(m)
                _, rcpts, _ = report(msg)
                r = by_final(rcpts)["testadmin@example1.com"]
                actions.append((r["Action"], r["Status"]))
                true(re.match(r"^smtp; 451 4\.2\.0 ",
                              r["Diagnostic-Code"] or ""),
                     "Diagnostic-Code: %r" % r["Diagnostic-Code"])
            eq(sorted(actions), [("delayed", "4.2.0"), ("failed", "4.4.7")],
               "(Action, Status) of the delay warning and the expiry")
            gw.wait_log(r"%s: to=<testadmin@example1\.com>, status=expired"
                        % qid)
        t.case("delay warning after `queue delay-warning`, then expiry "
               "with Status 4.4.7", delay_and_expiry)

        def delay_never():
            qid = transaction(gw, "<%s> ENVID=case-quiet" % SENDER,
                              ["<testadmin@example1.com> NOTIFY=NEVER"],
                              "quiet")
            gw.wait_log(r"%s: NOTIFY asks for no non-delivery" % qid, 30)
            eq(dsns_for(sink2, "case-quiet"), [],
               "DSNs with NOTIFY=NEVER (delay or expiry)")
        t.case("NOTIFY=NEVER: no delay warning, no expiry DSN", delay_never)
        t.case("queue empty at the end", lambda: gw.wait_queue(
            lambda q: q == [], 15, "empty queue"))

        def restart():
            qid = transaction(gw, "<%s> RET=HDRS ENVID=case-restart" % SENDER,
                              ["<testadmin@example1.com> NOTIFY=FAILURE "
                               "ORCPT=rfc822;ta+40example1.com"], "restart")
            gw.wait_log(r"%s: to=<testadmin@example1\.com>.*status=deferred"
                        % qid)
            gw.restart()
            (m, msg), = wait_dsns(sink2, "case-restart", 1, timeout=30)
            _, rcpts, orig = report(msg)
            r = by_final(rcpts)["testadmin@example1.com"]
            eq((r["Action"], r["Status"], r["Original-Recipient"]),
               ("failed", "4.4.7", "rfc822;ta@example1.com"),
               "Action, Status, Original-Recipient after the restart")
            eq(orig.get_content_type(), "text/rfc822-headers",
               "RET=HDRS kept across the restart")
        t.case("ENVID, RET, NOTIFY, ORCPT survive a restart (envelope on "
               "disk)", restart)
        t.case("stop gateway cleanly", gw.stop)
        unroutable(t, sink1)
    finally:
        gw.cleanup()
        sink1.cleanup()
        sink2.cleanup()
    return t.exit()


UNROUTABLE_CONFIG = """\
queue retry-min 1s
queue retry-max 2s
table domains { example1.com }
table transport file:transport
relay for <domains> via <transport>
"""


def unroutable(t, sink1):
    """No rule routes mail to the sender's domain: the DSN is logged and
    kept in the queue (show queue), never dropped."""
    gw = Gateway(None, UNROUTABLE_CONFIG,
                 {"transport": "example1.com %s\n" % sink1.relay})
    try:
        if not t.case("start a gateway without a route to the sender",
                      gw.start):
            return
        qid = t.case("failing message from an unroutable sender", transaction,
                     gw, "<sender@elsewhere.example.org> ENVID=case-noroute",
                     ["<alice@example1.com>"], "no route")
        m = t.case("log: DSN queued, then no route, kept for retry",
                   lambda: (gw.wait_log(r"%s: sender non-delivery "
                                        r"notification: (\S+)" % qid),
                            gw.wait_log(r": to=<sender@elsewhere\."
                                        r"example\.org>, no route: .*; kept "
                                        r"for retry")))

        def queued():
            dsnid = m[0].group(1)
            q = gw.wait_queue(lambda q: any(e["msgid"] == dsnid for e in q),
                              10, "the DSN in show queue")
            e = [e for e in q if e["msgid"] == dsnid][0]
            eq((e["from"], e["to"]), ("", "sender@elsewhere.example.org"),
               "from (<>) and to of the queued DSN")
        if m:
            t.case("show queue keeps the unroutable DSN", queued)
        t.case("stop the second gateway cleanly", gw.stop)
    finally:
        gw.cleanup()


if __name__ == "__main__":
    sys.exit(main())
