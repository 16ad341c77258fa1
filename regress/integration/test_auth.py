"""Relay authorization with SMTP AUTH (issue 3): a credentials file with
hashes made here (sha512-crypt from `openssl passwd -6', bcrypt and
yescrypt where Python's crypt module has them), certificates made with
the openssl CLI, one gateway with a `tls ... auth <users>' listener, an
`smtps ... auth <users>' one and the plain one, and
`relay from authenticated' to the sink.  Real clients: smtplib
(starttls + login with PLAIN and with LOGIN, SMTP_SSL), swaks --tls
--auth, and a raw client for exact replies (538, 501, 503, 421)."""

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import HOSTNAME, classic_config, classic_tables  # noqa: E402
from gateway import Gateway, mkdtemp  # noqa: E402
from sink import Sink, free_port  # noqa: E402
from smtp import SMTPClient, expect  # noqa: E402
from pki import client_context, make_self_signed, openssl  # noqa: E402
from tap import Tap, eq, match, true  # noqa: E402

import smtplib  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import crypt
    except ImportError:          # Python 3.13 and later
        crypt = None

SMTPD_LOG = r"smtpd\[\d+\]: [0-9A-F]{8}: "
SENDER = "alice@example1.com"
OUTSIDE = "someone@outside.example.net"
PASSWORDS = {"alice": "alice-pw-6", "bob": "bob pw 2b", "carol": "carol-y"}
WRONG = "not-the-password"


# ------------------------------------------------------------ set-up

def yescrypt_salt():
    """A yescrypt setting with libxcrypt's default cost ("j9T") and a
    random salt: Python's crypt module has no METHOD_YESCRYPT."""
    alphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" \
        "abcdefghijklmnopqrstuvwxyz"
    return "$y$j9T$%s$" % "".join(alphabet[b % 64]
                                  for b in os.urandom(16))


def make_users():
    """username -> crypt(3) hash: sha512-crypt always (openssl), bcrypt
    and yescrypt where this Python's crypt module (libxcrypt's crypt(3))
    can make them."""
    users = {"alice": openssl("passwd", "-6", "-stdin",
                              stdin=PASSWORDS["alice"] + "\n").strip()}
    if crypt is None:
        return users
    salts = {"bob": crypt.mksalt(crypt.METHOD_BLOWFISH)
             if hasattr(crypt, "METHOD_BLOWFISH") else None,
             "carol": yescrypt_salt()}
    for user, salt in salts.items():
        h = crypt.crypt(PASSWORDS[user], salt) if salt else None
        if h and h.startswith(salt[:4]):
            users[user] = h
    return users


def b64(s):
    return base64.b64encode(s.encode()).decode()


def plain(user, password):
    return b64("\0%s\0%s" % (user, password))


def raw_tls(port, ctx):
    """A raw client after EHLO, STARTTLS and EHLO again."""
    c = SMTPClient("127.0.0.1", port, timeout=20)
    expect(c.banner(), 220)
    expect(c.cmd("EHLO raw.test"), 250)
    expect(c.cmd("STARTTLS"), 220, what="STARTTLS")
    c.sock = ctx.wrap_socket(c.sock, server_hostname=HOSTNAME)
    r = expect(c.cmd("EHLO raw.test"), 250)
    return c, r


def sink_has(sink, subject, n_before):
    msgs = sink.wait_count(n_before + 1, 30)
    m = [x for x in msgs if "Subject: " + subject in x["data"]]
    true(m, "no message %r at the sink" % subject)
    return m[0]


# ------------------------------------------------------------ cases

def before_tls(t, gw, ports):
    def ehlo_no_auth():
        with SMTPClient("127.0.0.1", ports["tls"]) as c:
            expect(c.banner(), 220)
            r = expect(c.cmd("EHLO pre.test"), 250)
            true("STARTTLS" in r.keywords(), "no STARTTLS: %r" % r.text)
            true("AUTH" not in r.keywords(), "AUTH before TLS: %r" % r.text)
            eq(c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"]))
               .last, "538 5.7.11 Encryption required for requested "
               "authentication mechanism", "AUTH before STARTTLS")
    t.case("before STARTTLS: no AUTH in EHLO, AUTH gets 538 5.7.11",
           ehlo_no_auth)

    def plain_listener():
        with gw.client() as c:
            expect(c.banner(), 220)
            r = expect(c.cmd("EHLO pre.test"), 250)
            true("AUTH" not in r.keywords(), "AUTH offered: %r" % r.text)
            expect(c.cmd("AUTH LOGIN"), 502, what="AUTH without auth")
    t.case("a listener without auth: no AUTH in EHLO, AUTH gets 502",
           plain_listener)


def smtplib_login(t, gw, sink, ports, ctx, users):
    for user, mech in (("alice", "PLAIN"), ("alice", "LOGIN"),
                       ("bob", "LOGIN"), ("carol", "PLAIN")):
        if user not in users:
            t.skip("smtplib %s as %s" % (mech, user),
                   "this Python's crypt cannot make %s's hash" % user)
            continue

        def run(user=user, mech=mech):
            mark = gw.mark()
            before = sink.count()
            subject = "auth %s %s" % (mech, user)
            with smtplib.SMTP("127.0.0.1", ports["tls"], timeout=20) as s:
                s.ehlo("smtplib.test")
                s.starttls(context=ctx)
                s.ehlo("smtplib.test")
                eq(sorted(s.esmtp_features.get("auth", "").split()),
                   ["LOGIN", "PLAIN"], "AUTH mechanisms after STARTTLS")
                s.user, s.password = user, PASSWORDS[user]
                fn = s.auth_plain if mech == "PLAIN" else s.auth_login
                code, resp = s.auth(mech, fn)
                eq((code, resp), (235, b"2.7.0 Authentication successful"),
                   "AUTH reply")
                s.sendmail(SENDER, [OUTSIDE], "Subject: %s\r\n\r\nhi\r\n"
                           % subject)
            m = sink_has(sink, subject, before)
            eq(m["rcpt_to"], [OUTSIDE], "recipients at the sink")
            match(r"\tby mx\.test\.example \(mxgate\) with ESMTPSA id ",
                  m["data"], "Received header")
            gw.wait_log(SMTPD_LOG + r"client=\[127\.0\.0\.1\], "
                        r"sasl_method=%s, sasl_username=%s$" % (mech, user),
                        since=mark)
        hashname = users[user][:4]
        t.case("smtplib starttls + AUTH %s as %s (%s hash): 235, a message "
               "to an outside domain relayed to the sink with ESMTPSA, "
               "logged" % (mech, user, hashname), run)


def swaks_auth(t, gw, sink, ports):
    if shutil.which("swaks") is None:
        t.skip("swaks --tls --auth", "swaks not installed")
        return
    for mech in ("PLAIN", "LOGIN"):
        def run(mech=mech):
            mark = gw.mark()
            before = sink.count()
            r = subprocess.run(
                ["swaks", "--server", "127.0.0.1", "--port",
                 str(ports["tls"]), "--tls", "--auth", mech,
                 "--auth-user", "alice", "--auth-password",
                 PASSWORDS["alice"], "--from", SENDER, "--to", OUTSIDE,
                 "--helo", "swaks.test", "--header",
                 "Subject: swaks " + mech, "--timeout", "20"],
                capture_output=True, text=True, timeout=60,
                stdin=subprocess.DEVNULL)
            eq(r.returncode, 0, "swaks exit status",
               r.stdout[-1500:] + r.stderr[-500:])
            true("235 2.7.0 Authentication successful" in r.stdout,
                 "no 235", r.stdout[-1500:])
            sink_has(sink, "swaks " + mech, before)
            gw.wait_log(SMTPD_LOG + r"client=\[127\.0\.0\.1\], "
                        r"sasl_method=%s, sasl_username=alice$" % mech,
                        since=mark)
        t.case("swaks --tls --auth %s: relayed to the sink" % mech, run)


def smtps_login(t, sink, ports, ctx):
    def run():
        before = sink.count()
        with smtplib.SMTP_SSL("127.0.0.1", ports["smtps"], timeout=20,
                              context=ctx) as s:
            s.ehlo("smtps.test")
            true(s.has_extn("auth"), "no AUTH on smtps")
            s.login("alice", PASSWORDS["alice"])
            s.sendmail(SENDER, [OUTSIDE], "Subject: smtps auth\r\n\r\nx\r\n")
        sink_has(sink, "smtps auth", before)
    t.case("smtps listener: SMTP_SSL login, relayed", run)


def wrong_password(t, gw, ports, ctx):
    def run():
        mark = gw.mark()
        with smtplib.SMTP("127.0.0.1", ports["tls"], timeout=20) as s:
            s.ehlo("wrong.test")
            s.starttls(context=ctx)
            s.ehlo("wrong.test")
            s.user, s.password = "alice", WRONG
            try:
                s.auth("LOGIN", s.auth_login)
                raise AssertionError("AUTH LOGIN with a wrong password "
                                     "accepted")
            except smtplib.SMTPAuthenticationError as e:
                eq((e.smtp_code, e.smtp_error),
                   (535, b"5.7.8 Authentication credentials invalid"),
                   "reply")
        gw.wait_log(SMTPD_LOG + r"client=\[127\.0\.0\.1\], authentication "
                    r"failed: sasl_method=LOGIN, sasl_username=alice$",
                    since=mark)
        true(WRONG not in gw.log(since=mark) and
             b64(WRONG) not in gw.log(since=mark),
             "the password is in the log")
    t.case("wrong password: 535 5.7.8, 'authentication failed' logged "
           "with method and user, the password nowhere in the log", run)

    def unknown_user():
        c, _ = raw_tls(ports["tls"], ctx)
        with c:
            eq(c.cmd("AUTH PLAIN " + plain("mallory", "x")).last,
               "535 5.7.8 Authentication credentials invalid", "reply")
    t.case("unknown user: 535 5.7.8", unknown_user)


def relay_rules(t, ports, ctx):
    def without_auth():
        c, r = raw_tls(ports["tls"], ctx)
        with c:
            true("AUTH" in r.keywords(), "no AUTH after TLS: %r" % r.text)
            expect(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
            eq(c.cmd("RCPT TO:<%s>" % OUTSIDE).last,
               "554 5.7.1 <%s>: Relay access denied" % OUTSIDE, "RCPT")
    t.case("under TLS but not authenticated: outside domain 554 5.7.1",
           without_auth)

    def unknown_in_relayed():
        c, _ = raw_tls(ports["tls"], ctx)
        with c:
            expect(c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"])),
                   235)
            expect(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
            eq(c.cmd("RCPT TO:<nobody@example1.com>").code, 550,
               "RCPT of an unknown user in a relayed domain")
            expect(c.cmd("RCPT TO:<user1@example1.com>"), 250)
    t.case("authenticated: unknown user in a relayed domain still 550, "
           "a known one 250", unknown_in_relayed)


def protocol(t, ports, ctx):
    def login_steps():
        c, _ = raw_tls(ports["tls"], ctx)
        with c:
            eq(c.cmd("AUTH LOGIN").last, "334 VXNlcm5hbWU6", "challenge 1")
            eq(c.cmd(b64("alice")).last, "334 UGFzc3dvcmQ6", "challenge 2")
            eq(c.cmd(b64(PASSWORDS["alice"])).last,
               "235 2.7.0 Authentication successful", "final")
            eq(c.cmd("AUTH PLAIN").last, "503 5.5.1 Error: already "
               "authenticated", "AUTH twice")
    t.case("AUTH LOGIN step by step (334 Username:, 334 Password:, 235); "
           "AUTH again 503", login_steps)

    def plain_steps():
        c, _ = raw_tls(ports["tls"], ctx)
        with c:
            eq(c.cmd("AUTH PLAIN").last, "334 ", "empty challenge")
            expect(c.cmd(plain("alice", PASSWORDS["alice"])), 235)
    t.case("AUTH PLAIN without initial response: 334, then 235",
           plain_steps)

    def in_transaction():
        c, _ = raw_tls(ports["tls"], ctx)
        with c:
            expect(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
            eq(c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"]))
               .last, "503 5.5.1 Error: MAIL transaction in progress",
               "AUTH after MAIL")
            expect(c.cmd("RSET"), 250)
            expect(c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"])),
                   235)
    t.case("AUTH during a transaction: 503; after RSET: 235",
           in_transaction)

    def cancel_and_garbage():
        c, _ = raw_tls(ports["tls"], ctx)
        with c:
            expect(c.cmd("AUTH LOGIN"), 334)
            eq(c.cmd("*").last, "501 5.7.0 Authentication aborted", "*")
            eq(c.cmd("AUTH PLAIN *").last, "501 5.7.0 Authentication "
               "aborted", "initial *")
            eq(c.cmd("AUTH PLAIN AGFsaWNl!!!").last,
               "501 5.5.2 Cannot decode response", "bad base64")
            expect(c.cmd("AUTH PLAIN"), 334)
            eq(c.cmd("AGFsaWNlAHg").last, "501 5.5.2 Cannot decode "
               "response", "base64 without its padding")
            eq(c.cmd("AUTH PLAIN =").last, "501 5.5.2 Invalid "
               "authentication message", "empty initial response")
            eq(c.cmd("AUTH CRAM-MD5").code, 504, "unknown mechanism")
            expect(c.cmd("NOOP"), 250, what="session goes on")
    t.case("'*' cancels (501 5.7.0), malformed base64 501 5.5.2, "
           "unknown mechanism 504, the session goes on", cancel_and_garbage)

    def overlong():
        c, _ = raw_tls(ports["tls"], ctx)
        with c:
            expect(c.cmd("AUTH LOGIN"), 334)
            eq(c.cmd("QUFB" * 200).last, "500 5.5.6 Authentication "
               "Exchange line is too long", "overlong response")
            expect(c.cmd("NOOP"), 250, what="next line is a command again")
            expect(c.cmd("AUTH LOGIN"), 334)
            eq(c.cmd("QUFB" * 600).last, "500 5.5.2 Error: line too long",
               "response over max-line-length")
            expect(c.cmd("NOOP"), 250, what="next line is a command again")
    t.case("an overlong response: 500 5.5.6 (or 5.5.2 over the line "
           "limit), the exchange ends", overlong)


def too_many_failures(t, gw, ports, ctx):
    def run():
        mark = gw.mark()
        c, _ = raw_tls(ports["tls"], ctx)
        with c:
            for i in (1, 2):
                eq(c.cmd("AUTH PLAIN " + plain("alice", WRONG)).last,
                   "535 5.7.8 Authentication credentials invalid",
                   "failure %d" % i)
            eq(c.cmd("AUTH PLAIN " + plain("alice", WRONG)).last,
               "421 4.7.0 %s Error: too many failed authentication "
               "attempts" % HOSTNAME, "failure 3")
            true(c.closed_by_peer(5), "connection not closed")
        gw.wait_log(SMTPD_LOG + r"too many failed authentication attempts "
                    r"from \[127\.0\.0\.1\]", since=mark)
        eq(gw.log_count(SMTPD_LOG + r"client=\[127\.0\.0\.1\], "
                        r"authentication failed: sasl_method=PLAIN, "
                        r"sasl_username=alice$", since=mark), 3,
           "failure log lines")
    t.case("3 failures (the default max-auth-failures): 535, 535, then "
           "421 4.7.0 and the connection closed", run)

    def others_go_on():
        # a session held back after a failure does not hold up another
        c, _ = raw_tls(ports["tls"], ctx)
        d, _ = raw_tls(ports["tls"], ctx)
        with c, d:
            c.send("AUTH PLAIN " + plain("alice", WRONG))
            expect(d.cmd("NOOP"), 250, what="other session's NOOP")
            expect(c.reply(), 535, what="the held-back reply")
    t.case("a failed attempt's delayed reply does not hold up other "
           "sessions", others_go_on)


def tempfail(t, gw, ports, ctx):
    """lookupd stopped (SIGSTOP): AUTH gets 454 after smtp timeout."""
    def run():
        pid = gw.status()["lookupd"]["pid"]
        c, _ = raw_tls(ports["tls"], ctx)
        with c:
            os.kill(pid, signal.SIGSTOP)
            try:
                r = c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"]),
                          timeout=30)
            finally:
                os.kill(pid, signal.SIGCONT)
            eq(r.last, "454 4.7.0 Temporary authentication failure",
               "AUTH while lookupd does not answer")
            expect(c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"])),
                   235, what="AUTH once lookupd answers again")
    t.case("lookupd does not answer: 454 4.7.0, then 235 once it does",
           run)


def password_change(t, gw, ports, ctx, users):
    """The credentials file is re-read when it changes, like any table."""
    def run():
        mark = gw.mark()
        new = "alice-new-pw"
        changed = dict(users)
        changed["alice"] = openssl("passwd", "-6", "-stdin",
                                   stdin=new + "\n").strip()
        gw.write_table("users", "".join("%s %s\n" % kv
                                        for kv in changed.items()))
        gw.wait_log(r"table users: reloaded \d+ entries", since=mark)
        c, _ = raw_tls(ports["tls"], ctx)
        with c:
            eq(c.cmd("AUTH PLAIN " + plain("alice", PASSWORDS["alice"]))
               .code, 535, "the old password")
            expect(c.cmd("AUTH PLAIN " + plain("alice", new)), 235,
                   what="the new password")
    t.case("a changed credentials file is re-read: the old password 535, "
           "the new one 235", run)


def main():
    t = Tap()
    d = mkdtemp("mxgate-auth-")
    os.chmod(d, 0o755)
    sink = Sink(mkdtemp("mxgate-sink-")).start()
    gw = None
    try:
        crt, key = make_self_signed(d, [HOSTNAME, "127.0.0.1"])
        ctx = client_context(crt)
        users = make_users()
        ports = {"tls": free_port(), "smtps": free_port()}
        tables = classic_tables(sink.relay)
        tables["users"] = "".join("%s %s\n" % kv for kv in users.items())
        conf = classic_config() + (
            "smtp timeout 4s\n"
            "table users file:users\n"
            'pki %s cert "%s" key "%s"\n'
            "listen on 127.0.0.1 port %d tls pki %s auth <users>\n"
            "listen on 127.0.0.1 port %d smtps pki %s auth <users>\n"
            'relay from authenticated via "%s"\n'
            % (HOSTNAME, crt, key, ports["tls"], HOSTNAME, ports["smtps"],
               HOSTNAME, sink.relay))
        gw = Gateway(None, conf, tables)
        if not t.case("start gateway with tls+auth and smtps+auth "
                      "listeners (%s)" % ", ".join(
                          "%s %s" % (u, h[:4]) for u, h in users.items()),
                      gw.start):
            return t.exit()
        before_tls(t, gw, ports)
        smtplib_login(t, gw, sink, ports, ctx, users)
        swaks_auth(t, gw, sink, ports)
        smtps_login(t, sink, ports, ctx)
        wrong_password(t, gw, ports, ctx)
        relay_rules(t, ports, ctx)
        protocol(t, ports, ctx)
        too_many_failures(t, gw, ports, ctx)
        tempfail(t, gw, ports, ctx)
        password_change(t, gw, ports, ctx, users)
        t.case("no worker died (crypt needs no syscall lookupd lacks)",
               lambda: eq(gw.log_count(r"killed by|exited with status"), 0,
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
