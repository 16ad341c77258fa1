"""The outbound session against real peers: Postfix's smtp-sink and the
recording sink (regress/lib/sink.py).  PIPELINING and SIZE= when offered,
the body dot-stuffed and back intact; per-recipient results (4xx
deferred, 5xx bounced, with the remote text); a 421 and a slow server
(the DATA timeout) defer; a message over the peer's SIZE bounces 5.3.4
without MAIL; several messages over one connection (RSET between, at most
mta max-messages-per-session); at most mta max-sessions-per-destination
connections to one next hop and mta max-sessions in all.  BODY=8BITMIME
and SMTPUTF8 passed on; a message that needs SMTPUTF8 bounces (5.6.7) at
a server without it."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from dnsserver import DNSServer  # noqa: E402
from gateway import Gateway, mkdtemp, write_file  # noqa: E402
from sink import Sink  # noqa: E402
from smtpsink import SmtpSink  # noqa: E402
from smtp import expect  # noqa: E402
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
        "utf8.test": Sink(mkdtemp("mxgate-sink-"), smtputf8=True),
        "ascii.test": Sink(mkdtemp("mxgate-sink-")),
    }
    # the bounces' next hop (the sender's domain) is looked up here, on
    # loopback: it does not exist
    dns = DNSServer({}).start()
    d = mkdtemp()
    write_file(os.path.join(d, "resolv.conf"), dns.resolv_conf())
    peers = list(ss.values()) + list(sk.values())
    for p in peers:
        p.start()
    transport = "".join("%s %s\n" % (d, p.relay)
                        for d, p in list(ss.items()) + list(sk.items()))
    config = ("queue retry-min 60s\nqueue retry-max 120s\n"
              "resolver \"%s\"\n" % os.path.join(d, "resolv.conf") +
              "mta timeout data 2s\n"
              "mta timeout idle 60s\n"
              "mta max-sessions %d\n"
              "mta max-sessions-per-destination %d\n"
              "table domains { %s }\n"
              "table transport file:transport\n"
              "relay for <domains> via <transport>\n"
              % (GLOBAL, PER_DEST, ", ".join(list(ss) + list(sk))))
    gw = Gateway(d, config, {"transport": transport})
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

        def send_params(rcpt, params):
            """A message sent with MAIL parameters; its queue id."""
            body = ("From: <%s>\r\nSubject: caf\u00e9\r\n\r\n"
                    "\u00e9t\u00e9 8-bit body\r\n" % SENDER)
            with gw.client() as c:
                expect(c.banner(), 220)
                expect(c.cmd("EHLO client.test"), 250)
                expect(c.cmd("MAIL FROM:<%s> %s" % (SENDER, params)), 250)
                expect(c.cmd("RCPT TO:<%s>" % rcpt), 250)
                expect(c.cmd("DATA"), 354)
                r = expect(c.data(body), 250)
                c.cmd("QUIT")
                return re.search(r"queued as (\S+)", r.last).group(1)

        def utf8():
            q = send_params("u@utf8.test", "BODY=8BITMIME SMTPUTF8")
            gw.wait_log(r"%s: to=<u@utf8\.test>, .*status=sent" % q)
            m = sk["utf8.test"].wait_count(1)[0]
            true("BODY=8BITMIME" in m["mail_args"] and
                 "SMTPUTF8" in m["mail_args"],
                 "MAIL parameters not passed on", m["mail_args"])
            true("\u00e9t\u00e9 8-bit body".encode().decode("latin-1")
                 in m["data"], "8-bit body changed", m["data"])
        t.case("BODY=8BITMIME and SMTPUTF8 passed on", utf8)

        def no_utf8():
            q = send_params("u@ascii.test", "SMTPUTF8")
            gw.wait_log(r"%s: to=<u@ascii\.test>, .*status=bounced \(5\.6\.7 "
                        r"SMTPUTF8 is required, but was not offered" % q)
            eq(sk["ascii.test"].count(), 0, "messages at the sink")
        t.case("SMTPUTF8 message to a server without it: bounced 5.6.7",
               no_utf8)

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
        dns.stop()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
