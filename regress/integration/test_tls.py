"""STARTTLS and implicit TLS (issue 3): certificates made here with the
openssl CLI (a test CA and server certificates for mx.test.example),
one gateway with a plain listener, a `tls' one, a `tls ... require-tls'
one and an `smtps' one.  Real clients: Python smtplib and ssl, swaks,
openssl s_client.  Then reloads: a new certificate is served to new
sessions; a broken key is refused and the old certificate stays."""

import hashlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import HOSTNAME, SMTPD, classic_config, classic_tables  # noqa
from gateway import Gateway, mkdtemp, write_file  # noqa: E402
from sink import Sink, free_port  # noqa: E402
from smtp import SMTPClient, expect  # noqa: E402
from pki import client_context, make_ca, make_server_cert  # noqa: E402
from tap import Tap, eq, match, true  # noqa: E402

import smtplib  # noqa: E402

SENDER = "sender@outside.example.org"
RCPT = "user1@example1.com"
SMTPD_LOG = r"smtpd\[\d+\]: [0-9A-F]{8}: "


# ------------------------------------------------------------ certificates

def fingerprint_of_file(crt):
    der = ssl.PEM_cert_to_DER_cert(open(crt).read())
    return hashlib.sha256(der).hexdigest()


# ------------------------------------------------------------ clients

def starttls(c, ctx):
    """STARTTLS on a raw SMTPClient: 220, then the handshake."""
    expect(c.cmd("STARTTLS"), 220, what="STARTTLS")
    true(c.buf == b"", "bytes after the 220: %r" % c.buf)
    c.sock = ctx.wrap_socket(c.sock, server_hostname=HOSTNAME)
    return c.sock


def served_fingerprint(port, ctx):
    with SMTPClient("127.0.0.1", port) as c:
        expect(c.banner(), 220)
        expect(c.cmd("EHLO fp.test"), 250)
        s = starttls(c, ctx)
        fp = hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()
        expect(c.cmd("QUIT"), 221)
    return fp


def s_client(port, version):
    r = subprocess.run(["openssl", "s_client", "-connect",
                        "127.0.0.1:%d" % port, "-starttls", "smtp",
                        "-" + version, "-brief"],
                       input="QUIT\r\n", capture_output=True, text=True,
                       timeout=30)
    return r


# ------------------------------------------------------------ cases

def ehlo_offers(t, gw, ports):
    def tls_listener():
        with SMTPClient("127.0.0.1", ports["tls"]) as c:
            expect(c.banner(), 220)
            r = expect(c.cmd("EHLO offer.test"), 250)
            true("STARTTLS" in r.keywords(), "no STARTTLS: %r" % r.text)
    t.case("EHLO on a tls listener offers STARTTLS", tls_listener)

    def plain_listener():
        with gw.client() as c:
            expect(c.banner(), 220)
            r = expect(c.cmd("EHLO offer.test"), 250)
            true("STARTTLS" not in r.keywords(), "STARTTLS: %r" % r.text)
            expect(c.cmd("STARTTLS"), 502, what="STARTTLS on plain")
    t.case("plain listener: no STARTTLS in EHLO, STARTTLS gets 502",
           plain_listener)


def smtplib_delivery(t, gw, sink, ports, ctx):
    mark = gw.mark()

    def send():
        with smtplib.SMTP("127.0.0.1", ports["tls"], timeout=15) as s:
            s.ehlo("smtplib.test")
            code, _ = s.starttls(context=ctx)
            eq(code, 220, "STARTTLS reply")
            s.ehlo("smtplib.test")
            true(not s.has_extn("starttls"), "STARTTLS offered after TLS")
            s.sendmail(SENDER, [RCPT], "Subject: over tls\r\n\r\nhello\r\n")
    if not t.case("smtplib: STARTTLS (CA verified) and a message", send):
        return

    def received():
        msgs = sink.wait_count(1, 30)
        m = [m for m in msgs if "over tls" in m["data"]]
        true(m, "message not at the sink")
        hdr = m[0]["data"].split("\r\n\r\n")[0]
        match(r"Received: from smtplib\.test \(\[127\.0\.0\.1\]\)\r\n"
              r"\t\(using TLSv1\.[23] with cipher [A-Z0-9_-]+ "
              r"\(\d+ bits\)\)\r\n"
              r"\tby mx\.test\.example \(mxgate\) with ESMTPS id ", hdr,
              "Received header")
    t.case("delivered; Received names the TLS version and cipher, "
           "with ESMTPS", received)
    t.case("log: one STARTTLS line with version and cipher",
           lambda: gw.wait_log(SMTPD_LOG + r"STARTTLS from \[127\.0\.0\.1\]"
                               r": TLSv1\.3 with cipher \S+ \(\d+ bits\)$",
                               since=mark))


def swaks_tls(t, gw, sink, ports):
    if shutil.which("swaks") is None:
        t.skip("swaks --tls", "swaks not installed")
        return

    def run():
        before = sink.count()
        r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port",
                            str(ports["tls"]), "--tls", "--from", SENDER,
                            "--to", RCPT, "--helo", "swaks.test",
                            "--header", "Subject: swaks tls",
                            "--timeout", "20"],
                           capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        eq(r.returncode, 0, "swaks exit status",
           r.stdout[-1500:] + r.stderr[-500:])
        true("TLS started" in r.stdout, "no 'TLS started'",
             r.stdout[-1500:])
        sink.wait_count(before + 1, 30)
    t.case("swaks --tls: message accepted and delivered", run)


def implicit_tls(t, gw, sink, ports, ctx):
    mark = gw.mark()

    def run():
        before = sink.count()
        with smtplib.SMTP_SSL("127.0.0.1", ports["smtps"], timeout=15,
                              context=ctx) as s:
            code, _ = s.ehlo("smtps.test")
            eq(code, 250, "EHLO")
            true(not s.has_extn("starttls"), "STARTTLS offered on smtps")
            s.sendmail(SENDER, [RCPT], "Subject: smtps\r\n\r\nhello\r\n")
        m = sink.wait_count(before + 1, 30)
        data = [x["data"] for x in m if "Subject: smtps" in x["data"]][0]
        match(r"\(using TLSv1\.3 with cipher ", data, "Received")
        gw.wait_log(SMTPD_LOG + r"SMTPS from \[127\.0\.0\.1\]: TLSv1\.3 ",
                    since=mark)
    t.case("smtps: SMTP_SSL, greeting under TLS, message delivered", run)


def versions(t, gw, ports):
    for v, name in (("tls1_2", "TLSv1.2"), ("tls1_3", "TLSv1.3")):
        def run(v=v, name=name):
            r = s_client(ports["tls"], v)
            match(r"Protocol version: %s" % re.escape(name),
                  r.stdout + r.stderr, "s_client -%s" % v)
        t.case("openssl s_client -starttls smtp -%s negotiates %s"
               % (v, name), run)

    def tls11():
        mark = gw.mark()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        except (ValueError, ssl.SSLError) as e:
            raise AssertionError("cannot make a TLS 1.1 client: %s" % e)
        with SMTPClient("127.0.0.1", ports["tls"]) as c:
            expect(c.banner(), 220)
            expect(c.cmd("EHLO old.test"), 250)
            try:
                starttls(c, ctx)
            except (ssl.SSLError, OSError):
                pass
            else:
                raise AssertionError("TLS 1.1 handshake succeeded: %s"
                                     % c.sock.version())
        # the server saw the attempt and refused it for its version
        gw.wait_log(SMTPD_LOG + r"STARTTLS from \[127\.0\.0\.1\]: TLS "
                    r"handshake failed: .*unsupported protocol", since=mark)
    t.case("TLS 1.1 refused (handshake fails, logged)", tls11)


def injection(t, gw, ports, ctx):
    def rset():
        with SMTPClient("127.0.0.1", ports["tls"]) as c:
            expect(c.banner(), 220)
            expect(c.cmd("EHLO inject.test"), 250)
            c.send_raw(b"STARTTLS\r\nRSET\r\n")
            expect(c.reply(), 220, what="STARTTLS")
            true(c.buf == b"", "more than the 220 before TLS: %r" % c.buf)
            c.sock = ctx.wrap_socket(c.sock, server_hostname=HOSTNAME)
            r = c.cmd("HELP")
            eq(r.code, 214, "first reply under TLS (RSET's would be 250)",
               r.text)
    t.case("CVE-2011-0411: STARTTLS\\r\\nRSET in one packet, "
           "no reply to RSET after TLS", rset)

    def mail():
        with SMTPClient("127.0.0.1", ports["tls"]) as c:
            expect(c.banner(), 220)
            expect(c.cmd("EHLO inject.test"), 250)
            c.send_raw(b"STARTTLS\r\nMAIL FROM:<evil@outside.example.org>"
                       b"\r\n")
            expect(c.reply(), 220, what="STARTTLS")
            c.sock = ctx.wrap_socket(c.sock, server_hostname=HOSTNAME)
            expect(c.cmd("EHLO inject.test"), 250, what="EHLO under TLS")
            expect(c.cmd("MAIL FROM:<%s>" % SENDER), 250,
                   what="MAIL (a nested-MAIL 503 means the injected one "
                   "counted)")
            expect(c.cmd("QUIT"), 221)
    t.case("an injected MAIL before the handshake is discarded", mail)


def session_rules(t, gw, ports, ctx):
    def require():
        with SMTPClient("127.0.0.1", ports["require"]) as c:
            expect(c.banner(), 220)
            expect(c.cmd("EHLO req.test"), 250)
            expect(c.cmd("MAIL FROM:<%s>" % SENDER), 530,
                   exact="530 5.7.0 Must issue a STARTTLS command first")
            expect(c.cmd("RCPT TO:<%s>" % RCPT), 503)
            starttls(c, ctx)
            expect(c.cmd("EHLO req.test"), 250)
            expect(c.cmd("MAIL FROM:<%s>" % SENDER), 250,
                   what="MAIL under TLS")
            expect(c.cmd("QUIT"), 221)
    t.case("require-tls: MAIL before STARTTLS gets 530, after it 250",
           require)

    def twice():
        with SMTPClient("127.0.0.1", ports["tls"]) as c:
            expect(c.banner(), 220)
            expect(c.cmd("EHLO twice.test"), 250)
            expect(c.cmd("STARTTLS now"), 501,
                   exact="501 5.5.4 Syntax: STARTTLS")
            starttls(c, ctx)
            r = expect(c.cmd("EHLO twice.test"), 250)
            true("STARTTLS" not in r.keywords(),
                 "STARTTLS offered again: %r" % r.text)
            expect(c.cmd("STARTTLS"), 503, what="second STARTTLS")
            expect(c.cmd("NOOP"), 250, what="session goes on")
            expect(c.cmd("QUIT"), 221)
    t.case("STARTTLS with an argument 501; not offered after TLS; "
           "a second one 503", twice)

    def reset():
        with SMTPClient("127.0.0.1", ports["tls"]) as c:
            expect(c.banner(), 220)
            expect(c.cmd("EHLO before.test"), 250)
            expect(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
            starttls(c, ctx)
            expect(c.cmd("MAIL FROM:<%s>" % SENDER), 503,
                   exact="503 5.5.1 Error: send HELO/EHLO first")
            expect(c.cmd("EHLO after.test"), 250)
            expect(c.cmd("RCPT TO:<%s>" % RCPT), 503,
                   what="RCPT: the MAIL before TLS is forgotten")
            expect(c.cmd("QUIT"), 221)
    t.case("after STARTTLS the session is back before EHLO", reset)

    def garbage():
        mark = gw.mark()
        with SMTPClient("127.0.0.1", ports["tls"]) as c:
            expect(c.banner(), 220)
            expect(c.cmd("EHLO garbage.test"), 250)
            expect(c.cmd("STARTTLS"), 220)
            c.send_raw(b"this is not a TLS ClientHello\r\n" * 4)
            true(c.closed_by_peer(10), "connection still open")
        gw.wait_log(SMTPD_LOG + r"STARTTLS from \[127\.0\.0\.1\]: TLS "
                    r"handshake failed: ", since=mark)
        gw.wait_log(SMTPD_LOG + r"disconnect from \[127\.0\.0\.1\]",
                    since=mark)
    t.case("a failed handshake is logged and the connection closed",
           garbage)


def big_message(t, gw, sink, ports, ctx):
    def run():
        before = sink.count()
        line = "x" * 76 + "\r\n"
        body = "Subject: big over tls\r\n\r\n" + line * 20000
        with smtplib.SMTP("127.0.0.1", ports["tls"], timeout=30) as s:
            s.starttls(context=ctx)
            s.sendmail(SENDER, [RCPT], body)
        m = sink.wait_count(before + 1, 60)
        data = [x["data"] for x in m if "big over tls" in x["data"]][0]
        eq(data.count(line), 20000, "lines of the 1.5 MB body")
    t.case("a 1.5 MB message over STARTTLS arrives whole", run)


def reloads(t, gw, ports, ctx, certs, d):
    pki = os.path.join(d, "pki.conf")

    def first():
        eq(served_fingerprint(ports["tls"], ctx),
           fingerprint_of_file(certs[0][0]), "served certificate")
    t.case("the first certificate is served", first)

    def new_cert():
        write_file(pki, 'pki %s cert "%s" key "%s"\n'
                   % (HOSTNAME, certs[1][0], certs[1][1]))
        r = gw.ctl("reload")
        eq((r.returncode, r.stdout.strip()), (0, "reload: ok"),
           "smtpctl reload", r.stderr)
        eq(served_fingerprint(ports["tls"], ctx),
           fingerprint_of_file(certs[1][0]), "served certificate")
    t.case("reload with a new certificate: new sessions get it", new_cert)

    def broken_key():
        mark = gw.mark()
        bad = os.path.join(d, "broken.key")
        write_file(bad, "-----BEGIN PRIVATE KEY-----\nnot a key\n"
                   "-----END PRIVATE KEY-----\n")
        write_file(pki, 'pki %s cert "%s" key "%s"\n'
                   % (HOSTNAME, certs[0][0], bad))
        r = gw.ctl("reload")
        true(r.returncode != 0, "reload with a broken key succeeded: %r"
             % r.stdout)
        gw.wait_log(r"%s:1: pki %s: " % (re.escape(pki),
                                         re.escape(HOSTNAME)), since=mark)
        eq(served_fingerprint(ports["tls"], ctx),
           fingerprint_of_file(certs[1][0]), "served certificate")
    t.case("reload with a broken key is refused (file:line logged), "
           "the old certificate still serves", broken_key)

    def mismatch_n():
        write_file(pki, 'pki %s cert "%s" key "%s"\n'
                   % (HOSTNAME, certs[0][0], certs[1][1]))
        r = subprocess.run([SMTPD, "-n", "-f", gw.conf], capture_output=True,
                           text=True, timeout=30, stdin=subprocess.DEVNULL)
        true(r.returncode != 0, "smtpd -n accepted a key of another "
             "certificate")
        match(r"(?m)^%s:1: pki %s: cannot use key \"%s\" with "
              r"certificate \"%s\": " % (re.escape(pki), re.escape(HOSTNAME),
                                        re.escape(certs[1][1]),
                                        re.escape(certs[0][0])),
              r.stderr, "smtpd -n stderr")
        write_file(pki, 'pki %s cert "%s" key "%s"\n'
                   % (HOSTNAME, certs[1][0], certs[1][1]))
    t.case("smtpd -n: a key that does not match its certificate is "
           "file:line: ... and exit != 0", mismatch_n)


def timeouts(t, d, sink, ca, certs, ctx):
    """smtp timeout 2s: a handshake that never comes, an idle session."""
    port = free_port()
    conf = classic_config() + (
        "smtp timeout 2s\n"
        'pki %s cert "%s" key "%s"\n'
        "listen on 127.0.0.1 port %d tls pki %s\n"
        % (HOSTNAME, certs[0][0], certs[0][1], port, HOSTNAME))
    gw = Gateway(None, conf, classic_tables(sink.relay))
    try:
        if not t.case("start a gateway with smtp timeout 2s", gw.start):
            return

        def stalled():
            mark = gw.mark()
            with SMTPClient("127.0.0.1", port) as c:
                expect(c.banner(), 220)
                expect(c.cmd("EHLO stall.test"), 250)
                expect(c.cmd("STARTTLS"), 220)
                true(c.closed_by_peer(15), "still open without handshake")
            gw.wait_log(SMTPD_LOG + r"STARTTLS from \[127\.0\.0\.1\]: TLS "
                        r"handshake timed out$", since=mark)
        t.case("STARTTLS without a handshake: timed out, logged, closed",
               stalled)

        def idle():
            mark = gw.mark()
            with SMTPClient("127.0.0.1", port, timeout=15) as c:
                expect(c.banner(), 220)
                expect(c.cmd("EHLO idle.test"), 250)
                starttls(c, ctx)
                expect(c.cmd("EHLO idle.test"), 250)
                expect(c.reply(), 421, exact="421 4.4.2 %s Error: timeout "
                       "exceeded" % HOSTNAME, what="idle under TLS")
            gw.wait_log(SMTPD_LOG + r"timeout after EHLO from "
                        r"\[127\.0\.0\.1\]", since=mark)
        t.case("idle TLS session: 421 under TLS, logged", idle)
        t.case("timeout gateway stops cleanly", gw.stop)
    finally:
        gw.cleanup()


def main():
    t = Tap()
    d = mkdtemp("mxgate-tls-")
    os.chmod(d, 0o755)
    sink = Sink(mkdtemp("mxgate-sink-")).start()
    gw = None
    try:
        ca = make_ca(d)
        certs = [make_server_cert(d, "one", ca, [HOSTNAME, "127.0.0.1"]),
                 make_server_cert(d, "two", ca, [HOSTNAME, "127.0.0.1"])]
        ctx = client_context(ca[1])
        ports = {"tls": free_port(), "require": free_port(),
                 "smtps": free_port()}
        write_file(os.path.join(d, "pki.conf"), 'pki %s cert "%s" key "%s"\n'
                   % (HOSTNAME, certs[0][0], certs[0][1]))
        conf = classic_config() + (
            'include "%s"\n'
            "listen on 127.0.0.1 port %d tls pki %s\n"
            "listen on 127.0.0.1 port %d tls pki %s require-tls\n"
            "listen on 127.0.0.1 port %d smtps pki %s\n"
            % (os.path.join(d, "pki.conf"), ports["tls"], HOSTNAME,
               ports["require"], HOSTNAME, ports["smtps"], HOSTNAME))
        gw = Gateway(None, conf, classic_tables(sink.relay))
        if not t.case("start gateway with tls, require-tls and smtps "
                      "listeners", gw.start):
            return t.exit()
        ehlo_offers(t, gw, ports)
        smtplib_delivery(t, gw, sink, ports, ctx)
        swaks_tls(t, gw, sink, ports)
        implicit_tls(t, gw, sink, ports, ctx)
        versions(t, gw, ports)
        injection(t, gw, ports, ctx)
        session_rules(t, gw, ports, ctx)
        big_message(t, gw, sink, ports, ctx)
        reloads(t, gw, ports, ctx, certs, d)
        timeouts(t, d, sink, ca, certs, ctx)
        t.case("no worker died", lambda: eq(
            gw.log_count(r"killed by|exited with status"), 0,
            "worker deaths", gw.log_tail(20)))
        t.case("gateway stops cleanly", gw.stop)
    finally:
        if gw is not None:
            gw.cleanup()
        sink.cleanup()
        shutil.rmtree(d, ignore_errors=True)
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
