"""STARTTLS on the way out, against a second mxgate with a tls listener
and a certificate from a test CA made with the openssl CLI.  The policy
per next hop (mta tls HOST POLICY): may (the default) encrypts when
offered; verify checks the CA (mta ca-file) and the name, and a name
mismatch defers instead of falling back; encrypt defers at a server that
offers no STARTTLS; none sends in plain text.  A server that sends
anything after its 220 to STARTTLS (CVE-2011-0411 the other way round) is
not believed.  The log names TLS version, cipher and verification per
delivery."""

import os
import socketserver
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from dnsserver import DNSServer  # noqa: E402
from gateway import Gateway, mkdtemp, write_file  # noqa: E402
from sink import Sink, free_port  # noqa: E402
from pki import make_ca, make_server_cert  # noqa: E402
from tap import Tap, eq, match, true  # noqa: E402

SENDER = "sender@outside.example.org"
CERTNAME = "mx.tls.test"


def make_certs(d):
    """A test CA and a certificate for mx.tls.test and 127.0.0.1."""
    ca = make_ca(d, cn="mxgate mta test CA")
    crt, key = make_server_cert(d, "mx", ca, [CERTNAME, "127.0.0.1"])
    return ca[1], crt, key


class _Injector(socketserver.StreamRequestHandler):
    """Offers STARTTLS, then answers it with 220 and a second reply in
    the same write, as a man in the middle would."""

    def handle(self):
        self.wfile.write(b"220 injector.test ESMTP\r\n")
        for line in self.rfile:
            verb = line.split()[0].upper() if line.split() else b""
            self.server.seen.append(verb.decode("latin-1"))
            if verb == b"EHLO":
                self.wfile.write(b"250-injector.test\r\n250 STARTTLS\r\n")
            elif verb == b"STARTTLS":
                self.wfile.write(b"220 go ahead\r\n250 2.0.0 injected\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"502 no\r\n")


class _BrokenTLS(socketserver.StreamRequestHandler):
    """Offers STARTTLS and answers the ClientHello with garbage; without
    STARTTLS it takes the message (recorded in server.got)."""

    def handle(self):
        self.wfile.write(b"220 broken.test ESMTP\r\n")
        rcpts = []
        for line in self.rfile:
            verb = line.split()[0].upper() if line.split() else b""
            if verb == b"EHLO":
                self.wfile.write(b"250-broken.test\r\n250 STARTTLS\r\n")
            elif verb == b"STARTTLS":
                self.wfile.write(b"220 go ahead\r\n")
                self.wfile.flush()
                self.rfile.read1(4096)          # the ClientHello
                self.wfile.write(b"this is not TLS\r\n" * 4)
                return
            elif verb in (b"MAIL", b"RSET"):
                rcpts = []
                self.wfile.write(b"250 ok\r\n")
            elif verb == b"RCPT":
                rcpts.append(line.decode("latin-1").strip())
                self.wfile.write(b"250 ok\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go\r\n")
                for body in self.rfile:
                    if body == b".\r\n":
                        break
                self.server.got.extend(rcpts)
                self.wfile.write(b"250 2.0.0 taken in plain text\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"502 no\r\n")


def main():
    t = Tap()
    d = mkdtemp("mxgate-mtatls-")
    ca, crt, key = make_certs(d)
    dns = DNSServer({"mx.tls.test": {"A": ["127.0.0.1"]},
                     "wrong.tls.test": {"A": ["127.0.0.1"]}}).start()
    write_file(os.path.join(d, "resolv.conf"), dns.resolv_conf())
    final = Sink(mkdtemp("mxgate-sink-")).start()
    plain = Sink(mkdtemp("mxgate-sink-"), addr="127.0.0.2").start()
    inj = socketserver.ThreadingTCPServer(("127.0.0.4", 0), _Injector)
    inj.daemon_threads = True
    inj.seen = []
    threading.Thread(target=inj.serve_forever, daemon=True).start()
    broken = socketserver.ThreadingTCPServer(("127.0.0.5", 0), _BrokenTLS)
    broken.daemon_threads = True
    broken.got = []
    threading.Thread(target=broken.serve_forever, daemon=True).start()
    tls_port = free_port()
    domains = ["may.test", "verify.test", "badname.test", "encrypt.test",
               "none.test", "inject.test", "fallback.test"]
    # B: the next hop with STARTTLS, relaying everything to the final sink
    b = Gateway(None,
                'pki %s cert "%s" key "%s"\n'
                "listen on 127.0.0.1 port %d tls pki %s\n"
                "listen on 127.0.0.3 port %d tls pki %s\n"
                "table domains { %s }\n"
                'relay for <domains> via "%s"\n'
                % (CERTNAME, crt, key, tls_port, CERTNAME, tls_port,
                   CERTNAME, ", ".join(domains), final.relay))
    transport = (
        "may.test smtp:[127.0.0.1]:%d\n"
        "verify.test smtp:[mx.tls.test]:%d\n"
        "badname.test smtp:[wrong.tls.test]:%d\n"
        "encrypt.test %s\n"
        "none.test smtp:[127.0.0.3]:%d\n"
        "inject.test smtp:[127.0.0.4]:%d\n"
        "fallback.test smtp:[127.0.0.5]:%d\n"
        % (tls_port, tls_port, tls_port, plain.relay, tls_port,
           inj.server_address[1], broken.server_address[1]))
    a = Gateway(None,
                'resolver "%s"\n'
                'mta ca-file "%s"\n'
                "mta tls mx.tls.test verify\n"
                "mta tls wrong.tls.test verify\n"
                "mta tls 127.0.0.2 encrypt\n"
                "mta tls 127.0.0.3 none\n"
                "mta tls 127.0.0.4 encrypt\n"
                "queue retry-min 60s\nqueue retry-max 120s\n"
                "table domains { %s }\n"
                "table transport file:transport\n"
                "relay for <domains> via <transport>\n"
                % (os.path.join(d, "resolv.conf"), ca, ", ".join(domains)),
                {"transport": transport})
    try:
        if not t.case("start the next hop (mxgate with STARTTLS)", b.start):
            return t.exit()
        if not t.case("start the gateway under test", a.start):
            return t.exit()

        def received_of(rcpt):
            for m in final.messages():
                if rcpt in m["rcpt_to"]:
                    return m["data"]
            raise AssertionError("%s not at the final sink" % rcpt)

        def may():
            q = a.send(SENDER, "u@may.test")
            a.wait_log(r"%s: to=<u@may\.test>, relay=127\.0\.0\.1:%d, "
                       r"delay=[0-9.]+, tls=TLSv1\.[23], cipher=[A-Z0-9_-]+, "
                       r"verify=none, status=sent" % (q, tls_port))
            final.wait_rcpts(1)
            match(r"with ESMTPS id", received_of("u@may.test"),
                  "next hop's Received header")
        t.case("may (default): STARTTLS used, logged with version and "
               "cipher", may)

        def verify():
            q = a.send(SENDER, "u@verify.test")
            a.wait_log(r"%s: to=<u@verify\.test>, relay=mx\.tls\.test\["
                       r"127\.0\.0\.1\]:%d, .*tls=TLSv1\.[23], .*verify=ok, "
                       r"status=sent" % (q, tls_port))
            a.wait_log(r"%s: TLS to mx\.tls\.test\[127\.0\.0\.1\]:%d: "
                       r"TLSv1\.[23] .*certificate verified" % (q, tls_port))
        t.case("verify: CA and name checked, logged verify=ok", verify)

        def badname():
            q = a.send(SENDER, "u@badname.test")
            a.wait_log(r"%s: to=<u@badname\.test>, .*status=deferred "
                       r"\(4\.7\.5 TLS handshake with wrong\.tls\.test"
                       % q)
            true("u@badname.test" not in final.recipients(),
                 "delivered despite the name mismatch")
            eq(a.log_count(r"%s: to=<u@badname\.test>, .*status=sent" % q),
               0, "sent lines")
        t.case("verify: wrong name defers, no plain-text fallback",
               badname)

        def encrypt():
            q = a.send(SENDER, "u@encrypt.test")
            a.wait_log(r"%s: to=<u@encrypt\.test>, .*status=deferred "
                       r"\(4\.7\.4 TLS is required, but host .* did not "
                       r"offer STARTTLS" % q)
            eq(plain.count(), 0, "messages at the plain sink")
        t.case("encrypt: a server without STARTTLS defers", encrypt)

        def none():
            q = a.send(SENDER, "u@none.test")
            line = a.wait_log(r"%s: to=<u@none\.test>, .*status=sent" % q)
            true("tls=" not in line.group(0), "TLS logged for policy none",
                 line)
            final.wait_rcpts(3)
            match(r"with ESMTP id", received_of("u@none.test"),
                  "next hop's Received header")
        t.case("none: plain text even though STARTTLS is offered", none)

        def inject():
            q = a.send(SENDER, "u@inject.test")
            a.wait_log(r"%s: to=<u@inject\.test>, .*status=deferred "
                       r"\(.*unexpected data after reply" % q)
            true("MAIL" not in inj.seen, "MAIL sent after the injection",
                 inj.seen)
        t.case("data after the 220 to STARTTLS: refused, nothing sent",
               inject)

        def fallback():
            q = a.send(SENDER, "u@fallback.test")
            a.wait_log(r"%s: 4\.7\.5 TLS handshake with 127\.0\.0\.5:\d+ "
                       r"failed: .*\(trying without TLS\)" % q)
            line = a.wait_log(r"%s: to=<u@fallback\.test>, .*status=sent "
                              r"\(250 2\.0\.0 taken in plain text\)" % q)
            true("tls=" not in line.group(0), "TLS logged", line.group(0))
            eq(broken.got, ["RCPT TO:<u@fallback.test>"], "plain delivery")
        t.case("may: a failed handshake is retried in plain text",
               fallback)

        t.case("no worker died", lambda: eq(
            a.log_count(r"killed by|exited with status"), 0,
            "worker deaths", a.log_tail(20)))
        t.case("stop the gateway", a.stop)
        t.case("stop the next hop", b.stop)
    finally:
        a.cleanup()
        b.cleanup()
        final.cleanup()
        plain.cleanup()
        inj.shutdown()
        inj.server_close()
        broken.shutdown()
        broken.server_close()
        dns.stop()
        import shutil
        shutil.rmtree(d, ignore_errors=True)
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
