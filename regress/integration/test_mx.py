"""Next hops by DNS, against a DNS server on loopback (regress/lib/
dnsserver.py) named by the `resolver` file: MX preference order, failover
from an MX that refuses connections to the next one, the implicit MX (no
MX record: the host itself), `smtp:[host]` asking for A/AAAA only, and
the answers that end a delivery: null MX and NXDOMAIN bounce, SERVFAIL
defers."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from dnsserver import DNSServer  # noqa: E402
from gateway import Gateway, mkdtemp, write_file  # noqa: E402
from sink import Sink, free_port  # noqa: E402
from tap import Tap, eq, true  # noqa: E402

import time  # noqa: E402

SENDER = "sender@outside.example.org"

ZONE = {
    # preference order: mxa (10) has the sink, mxb (20) another sink
    "order.test": {"MX": [(20, "mxb.order.test"), (10, "mxa.order.test")]},
    "mxa.order.test": {"A": ["127.0.0.1"]},
    "mxb.order.test": {"A": ["127.0.0.2"]},
    # failover: nothing listens on 127.0.0.3
    "failover.test": {"MX": [(10, "mx1.failover.test"),
                             (20, "mx2.failover.test")]},
    "mx1.failover.test": {"A": ["127.0.0.3"]},
    "mx2.failover.test": {"A": ["127.0.0.1"]},
    # no MX: the host itself
    "implicit.test": {"A": ["127.0.0.1"]},
    # [direct.test]: its MX (to nowhere) must not be asked
    "direct.test": {"MX": [(10, "nowhere.test")], "A": ["127.0.0.1"]},
    "nullmx.test": {"MX": [(0, ".")]},
    # every MX refuses: both tried, in order, then deferred
    "allfail.test": {"MX": [(20, "mx2.allfail.test"),
                            (10, "mx1.allfail.test")]},
    "mx1.allfail.test": {"A": ["127.0.0.3"]},
    "mx2.allfail.test": {"A": ["127.0.0.6"], "AAAA": ["::1"]},
    # the MX answer does not fit UDP: asked again over TCP
    "big.test": {"MX": [(10, "mxa.order.test")], "TC": True},
    # IPv6 only
    "v6.test": {"MX": [(10, "mx.v6.test")]},
    "mx.v6.test": {"AAAA": ["::1"]},
    "servfail.test": "SERVFAIL",
    # nxdomain.test: not in the zone
}

DOMAINS = ["order.test", "failover.test", "implicit.test", "direct.test",
           "nullmx.test", "nxdomain.test", "servfail.test", "allfail.test",
           "v6.test", "big.test"]


def main():
    t = Tap()
    dns = DNSServer(ZONE).start()
    port = free_port("127.0.0.1")
    a = Sink(mkdtemp("mxgate-sinka-"), port=port, addr="127.0.0.1").start()
    b = Sink(mkdtemp("mxgate-sinkb-"), port=port, addr="127.0.0.2").start()
    # on ::1 only from the IPv6 case on: before it, ::1 refuses
    c = Sink(mkdtemp("mxgate-sinkc-"), port=port, addr="::1")
    d = mkdtemp()
    resolv = os.path.join(d, "resolv.conf")
    write_file(resolv, dns.resolv_conf())
    transport = "".join("%s smtp:%s:%d\n" % (dom, dom, port)
                        for dom in DOMAINS if dom != "direct.test")
    transport += "direct.test smtp:[direct.test]:%d\n" % port
    config = ("queue retry-min 1s\nqueue retry-max 2s\n"
              "resolver \"%s\"\n"
              "table domains { %s }\n"
              "table transport file:transport\n"
              "relay for <domains> via <transport>\n"
              % (resolv, ", ".join(DOMAINS)))
    gw = Gateway(d, config, {"transport": transport})
    try:
        if not t.case("start gateway", gw.start):
            return t.exit()

        def order():
            qid = gw.send(SENDER, "u@order.test")
            eq(a.wait_rcpts(1, 20), ["u@order.test"], "sink of MX 10")
            gw.wait_log(r"%s: to=<u@order\.test>, relay=mxa\.order\.test"
                        r"\[127\.0\.0\.1\]:%d, .*status=sent" % (qid, port))
            eq(b.recipients(), [], "sink of MX 20")
        t.case("MX: the lowest preference gets the message", order)

        def failover():
            qid = gw.send(SENDER, "u@failover.test")
            gw.wait_log(r"%s: to=<u@failover\.test>, relay=mx2\.failover\."
                        r"test\[127\.0\.0\.1\]:%d, .*status=sent"
                        % (qid, port))
            true(gw.log_count(r"%s: 4\.4\.1 connect to mx1\.failover\.test\["
                              r"127\.0\.0\.3\]:%d: Connection refused"
                              % (qid, port)) == 1,
                 "no log line for the refused first MX",
                 gw.log_tail(20))
            true("u@failover.test" in a.recipients(), "not at the sink")
        t.case("MX: first MX refuses, the second gets it", failover)

        def implicit():
            qid = gw.send(SENDER, "u@implicit.test")
            gw.wait_log(r"%s: to=<u@implicit\.test>, relay=implicit\.test"
                        r"\[127\.0\.0\.1\]:%d, .*status=sent" % (qid, port))
            true(dns.asked("implicit.test", "MX"), "MX not asked")
        t.case("no MX record: the host itself (implicit MX)", implicit)

        def direct():
            qid = gw.send(SENDER, "u@direct.test")
            gw.wait_log(r"%s: to=<u@direct\.test>, relay=direct\.test"
                        r"\[127\.0\.0\.1\]:%d, .*status=sent" % (qid, port))
            true(not dns.asked("direct.test", "MX"),
                 "MX asked for smtp:[direct.test]")
            true(dns.asked("direct.test", "A"), "A not asked")
        t.case("smtp:[host]: address lookup only, no MX", direct)

        def nullmx():
            qid = gw.send(SENDER, "u@nullmx.test")
            gw.wait_log(r"%s: to=<u@nullmx\.test>, .*status=bounced "
                        r"\(556 5\.1\.10 .*null MX" % qid)
        t.case("null MX: permanent failure 556 5.1.10", nullmx)

        def nxdomain():
            qid = gw.send(SENDER, "u@nxdomain.test")
            gw.wait_log(r"%s: to=<u@nxdomain\.test>, .*status=bounced "
                        r"\(5\.4\.4 .*NXDOMAIN" % qid)
        t.case("NXDOMAIN: permanent failure 5.4.4", nxdomain)

        def servfail():
            qid = gw.send(SENDER, "u@servfail.test")
            gw.wait_log(r"%s: to=<u@servfail\.test>, .*status=deferred "
                        r"\(4\.4\.3 .*server failure" % qid)
            out = gw.ctl("show", "queue").stdout
            true(qid in out, "deferred message not in the queue", out)
        t.case("SERVFAIL: deferred, message kept in the queue", servfail)

        def allfail():
            qid = gw.send(SENDER, "u@allfail.test")
            gw.wait_log(r"%s: to=<u@allfail\.test>, .*status=deferred" % qid)
            log = gw.log()
            tried = [log.find("%s: 4.4.1 connect to %s: Connection refused"
                              % (qid, a)) for a in
                     ("mx1.allfail.test[127.0.0.3]:%d" % port,
                      "mx2.allfail.test[127.0.0.6]:%d" % port,
                      "mx2.allfail.test[::1]:%d" % port)]
            true(-1 not in tried and tried == sorted(tried),
                 "not every address tried in MX order: %r" % tried,
                 gw.log_tail(20))
        t.case("every address of every MX refuses: all tried, deferred",
               allfail)

        def ipv6():
            c.start()
            qid = gw.send(SENDER, "u@v6.test")
            gw.wait_log(r"%s: to=<u@v6\.test>, relay=mx\.v6\.test\[::1\]:"
                        r"%d, .*status=sent" % (qid, port))
            # (u@allfail.test may come too: its retry finds ::1 open now)
            true("u@v6.test" in c.recipients(), "not at the IPv6 sink",
                 c.recipients())
        t.case("AAAA only: delivered over IPv6", ipv6)

        def truncated():
            qid = gw.send(SENDER, "u@big.test")
            gw.wait_log(r"%s: to=<u@big\.test>, relay=mxa\.order\.test"
                        r"\[127\.0\.0\.1\]:%d, .*status=sent" % (qid, port))
            true(("big.test", "MX") in dns.tcp_queries,
                 "MX not asked again over TCP", dns.queries)
        t.case("truncated MX answer (TC): asked again over TCP", truncated)

        def idle_quit():
            deadline = time.monotonic() + 30
            while True:
                what = [w for w, _, _ in a.sessions()]
                if what.count("open") == what.count("quit") > 0:
                    break
                if time.monotonic() > deadline:
                    raise AssertionError("sessions still open or not "
                                         "ended by QUIT: %r" % what)
                time.sleep(0.2)
        t.case("idle connections end with QUIT (mta timeout idle)",
               idle_quit)

        t.case("stop gateway cleanly", gw.stop)
    finally:
        gw.cleanup()
        a.cleanup()
        b.cleanup()
        c.cleanup()
        dns.stop()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
