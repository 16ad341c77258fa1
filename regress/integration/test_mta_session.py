"""The outbound session against real peers: Postfix's smtp-sink and the
recording sink (regress/lib/sink.py).  PIPELINING and SIZE= when offered,
the body dot-stuffed and back intact; per-recipient results (4xx
deferred, 5xx bounced, with the remote text); a 421 and a slow server
(the DATA timeout) defer; a message over the peer's SIZE bounces 5.3.4
without MAIL; several messages over one connection (RSET between, at most
mta max-messages-per-session); at most mta max-sessions-per-destination
connections to one next hop and mta max-sessions in all."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import Gateway, mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
from smtpsink import SmtpSink  # noqa: E402
from tap import Tap, eq, true  # noqa: E402

SENDER = "sender@outside.example.org"
PER_DEST = 2
GLOBAL = 3
PER_SESSION = 2


def main():
    t = Tap()
    ss = {
        "ok.test": SmtpSink(mkdtemp("mxgate-ss-")),
        "rcpt4xx.test": SmtpSink(mkdtemp("mxgate-ss-"), "-r", "RCPT"),
        "rcpt5xx.test": SmtpSink(mkdtemp("mxgate-ss-"), "-f", "RCPT"),
        "mail421.test": SmtpSink(mkdtemp("mxgate-ss-"), "-Q", "MAIL"),
        "slow.test": SmtpSink(mkdtemp("mxgate-ss-"), "-p", "-W", "data:60"),
    }
    sk = {
        "mixed.test": Sink(mkdtemp("mxgate-sink-"),
                           tempfail=["temp@mixed.test"],
                           permfail=["perm@mixed.test"]),
        "size.test": Sink(mkdtemp("mxgate-sink-"), size=1000),
        "cap.test": Sink(mkdtemp("mxgate-sink-")),
        "conc1.test": Sink(mkdtemp("mxgate-sink-"), delay=0.5),
        "conc2.test": Sink(mkdtemp("mxgate-sink-"), delay=0.5),
    }
    peers = list(ss.values()) + list(sk.values())
    for p in peers:
        p.start()
    transport = "".join("%s %s\n" % (d, p.relay)
                        for d, p in list(ss.items()) + list(sk.items()))
    config = ("queue retry-min 60s\nqueue retry-max 120s\n"
              "mta timeout data 2s\n"
              "mta timeout idle 60s\n"
              "mta max-sessions %d\n"
              "mta max-sessions-per-destination %d\n"
              "table domains { %s }\n"
              "table transport file:transport\n"
              "relay for <domains> via <transport>\n"
              % (GLOBAL, PER_DEST, ", ".join(list(ss) + list(sk))))
    gw = Gateway(None, config, {"transport": transport})
    try:
        if not t.case("start gateway", gw.start):
            return t.exit()

        def pipelining():
            body = ("From: <%s>\r\nSubject: dots\r\n\r\n.leading dot\r\n"
                    "..two dots\r\n.\r\nend\r\n" % SENDER)
            qids = [gw.send(SENDER, "u%d@ok.test" % i, body=body)
                    for i in range(5)]
            for i, q in enumerate(qids):
                gw.wait_log(r"%s: to=<u%d@ok\.test>, .*status=sent \(250"
                            % (q, i), timeout=20)
            dumps = ss["ok.test"].dumps()
            eq(len(dumps), 5, "messages at smtp-sink")
            for d in dumps:
                true("\n.leading dot\n..two dots\n.\nend\n" in d,
                     "body changed in transit", d)
        t.case("smtp-sink: 5 messages delivered, dots intact", pipelining)

        def per_rcpt():
            q = gw.send(SENDER, ["ok@mixed.test", "temp@mixed.test",
                                 "perm@mixed.test"])
            gw.wait_log(r"%s: to=<ok@mixed\.test>, .*status=sent" % q)
            gw.wait_log(r"%s: to=<temp@mixed\.test>, .*status=deferred "
                        r"\(451 4\.2\.0 <temp@mixed\.test>: test sink "
                        r"tempfail\)" % q)
            gw.wait_log(r"%s: to=<perm@mixed\.test>, .*status=bounced "
                        r"\(550 5\.1\.1 <perm@mixed\.test>: test sink "
                        r"permfail\)" % q)
            m = sk["mixed.test"].wait_count(1)[0]
            eq(m["rcpt_to"], ["ok@mixed.test"], "recipients at the sink")
            true(m["pipelined"], "MAIL, RCPT and DATA not pipelined", m)
            true(m["mail_args"].startswith("SIZE="),
                 "no SIZE= with MAIL FROM", m)
        t.case("pipelined: 250 sent, 451 deferred, 550 bounced, texts kept",
               per_rcpt)

        def smtp_sink_4xx():
            q = gw.send(SENDER, "a@rcpt4xx.test")
            gw.wait_log(r"%s: to=<a@rcpt4xx\.test>, .*status=deferred "
                        r"\(450 4\.3\.0 Error: command failed\)" % q)
        t.case("smtp-sink -r RCPT: deferred with its 450", smtp_sink_4xx)

        def smtp_sink_5xx():
            q = gw.send(SENDER, "a@rcpt5xx.test")
            gw.wait_log(r"%s: to=<a@rcpt5xx\.test>, .*status=bounced "
                        r"\(500 5\.3\.0 Error: command failed\)" % q)
        t.case("smtp-sink -f RCPT: bounced with its 500", smtp_sink_5xx)

        def smtp_sink_421():
            q = gw.send(SENDER, "a@mail421.test")
            gw.wait_log(r"%s: to=<a@mail421\.test>, .*status=deferred "
                        r"\(host .* is closing the connection: 421" % q)
        t.case("smtp-sink -Q MAIL: 421 defers", smtp_sink_421)

        def slow():
            q = gw.send(SENDER, "a@slow.test")
            gw.wait_log(r"%s: to=<a@slow\.test>, .*status=deferred "
                        r"\(.*timed out .*while sending DATA command"
                        % q, timeout=30)
        t.case("slow smtp-sink (-p -W data:60): mta timeout data defers",
               slow)

        def size():
            body = "Subject: big\r\n\r\n" + ("x" * 70 + "\r\n") * 40
            q = gw.send(SENDER, "a@size.test", body=body)
            gw.wait_log(r"%s: to=<a@size\.test>, .*status=bounced \(552 "
                        r"5\.3\.4 message size \d+ exceeds size limit 1000"
                        % q)
            eq(sk["size.test"].count(), 0, "messages at the sink")
        t.case("over the peer's SIZE: bounced 5.3.4, nothing sent", size)

        def cap():
            qids = [gw.send(SENDER, "u%d@cap.test" % i) for i in range(5)]
            for i, q in enumerate(qids):
                gw.wait_log(r"%s: to=<u%d@cap\.test>, .*status=sent"
                            % (q, i), timeout=20)
            by_peer = {}
            for m in sk["cap.test"].messages():
                by_peer[m["peer"]] = by_peer.get(m["peer"], 0) + 1
            true(max(by_peer.values()) <= PER_SESSION,
                 "more than %d messages on one connection" % PER_SESSION,
                 by_peer)
            true(len(by_peer) < 5, "no connection carried two messages",
                 by_peer)
        # the cap is set by a reload so the earlier cases reuse freely
        gw.write_config(gw.config_text +
                        "mta max-messages-per-session %d\n" % PER_SESSION)
        t.case("reload with mta max-messages-per-session 2",
               lambda: gw.ctl("reload"))
        t.case("reuse: several messages per connection, at most 2", cap)

        def concurrency():
            qids = []
            for i in range(6):
                qids.append(("conc1", i, gw.send(SENDER, "u%d@conc1.test" % i)))
                qids.append(("conc2", i, gw.send(SENDER, "u%d@conc2.test" % i)))
            for d, i, q in qids:
                gw.wait_log(r"%s: to=<u%d@%s\.test>, .*status=sent"
                            % (q, i, d), timeout=60)
            for d in ("conc1.test", "conc2.test"):
                true(sk[d].max_concurrent() <= PER_DEST,
                     "%s: %d connections at once (limit %d)"
                     % (d, sk[d].max_concurrent(), PER_DEST))
            events = sorted(sk["conc1.test"].sessions() +
                            sk["conc2.test"].sessions(), key=lambda e: e[2])
            n = top = 0
            for what, _, _ in events:
                n += 1 if what == "open" else -1
                top = max(top, n)
            true(top <= GLOBAL, "%d connections at once in all (limit %d)"
                 % (top, GLOBAL))
        t.case("at most %d connections per next hop, %d in all"
               % (PER_DEST, GLOBAL), concurrency)

        t.case("stop gateway cleanly", gw.stop)

        def reuse():
            s = ss["ok.test"]
            s.stop()
            true(0 < s.sessions() < 5, "smtp-sink counted %d session(s) "
                 "for 5 messages" % s.sessions(), s.output()[-500:])
        t.case("smtp-sink counted fewer sessions than messages", reuse)
    finally:
        gw.cleanup()
        for p in peers:
            p.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
