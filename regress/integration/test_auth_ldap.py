"""SMTP AUTH against an ldap: table (issue 3, "checked ... by an LDAP
bind"): a real slapd on loopback with the AD look-alike schema, users
with a userPassword ({SSHA} computed here, and one in clear text, which
slapd compares itself), StartTLS to slapd with a CA made here by openssl
and `security simple_bind=128' (slapd refuses any bind without TLS, so
the user's own bind connection must do StartTLS with the table's CA
too).  The gateway has a `tls ... auth <users>' listener on
`table users ldap:users.conf' (query_filter on sAMAccountName,
active_directory) and `relay from authenticated' to the sink.  Real
clients: smtplib starttls + login PLAIN and LOGIN, a raw client for
exact replies.  Cases: the right password 235 and the message relayed;
wrong password, unknown user, an entry without userPassword, disabled
account, two entries matching, empty password (PLAIN and LOGIN) 535;
filter injection (`*', `al*', `alice)(...=*') with alice's own password
535, so no name binds as someone else; the table's own connection made
once and kept through every login; a second table on ldaps://; slapd
hung (SIGSTOP) or stopped 454 with a log line naming the server; slapd
back 235."""

import base64
import hashlib
import os
import re
import shutil
import signal
import smtplib
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import HOSTNAME, Gateway, classic_config  # noqa: E402
from gateway import classic_tables, mkdtemp, write_file  # noqa: E402
from sink import Sink, free_port  # noqa: E402
from slapd import BIND_DN, BIND_PW, SUFFIX, Slapd  # noqa: E402
from smtp import expect  # noqa: E402
from tap import Tap, eq, true  # noqa: E402
from test_auth import SMTPD_LOG, b64, plain  # noqa: E402
from test_auth import raw_tls  # noqa: E402
from test_auth import sink_has  # noqa: E402
from pki import client_context, make_self_signed  # noqa: E402
from test_ldap import make_tls  # noqa: E402

USERS = "ou=Users," + SUFFIX
OTHERS = "ou=Others," + SUFFIX
SENDER = "alice@example1.com"
OUTSIDE = "someone@outside.example.net"
PASSWORDS = {"alice": "alice-Ldap-pw", "bob": "bob ldap pw",
             "carol": "carol-pw", "dup": "dup-pw"}
WRONG = "not-the-password"


def ssha(password):
    """{SSHA}: base64(sha1(password + salt) + salt), as slappasswd."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def user(cn, ou, password, uac=512):
    text = ("dn: cn=%s,%s\nobjectClass: user\ncn: %s\nsn: %s\n"
            "sAMAccountName: %s\nmail: %s@example1.com\n"
            "userAccountControl: %d\n"
            % (cn, ou, cn, cn, cn.split("-")[0], cn, uac))
    if password:
        text += "userPassword: %s\n" % password
    return text + "\n"


LDIF = (
    "dn: %s\nobjectClass: organizationalUnit\nou: Users\n\n" % USERS +
    "dn: %s\nobjectClass: organizationalUnit\nou: Others\n\n" % OTHERS +
    user("alice", USERS, ssha(PASSWORDS["alice"])) +
    user("bob", USERS, PASSWORDS["bob"]) +          # clear text in slapd
    user("carol", USERS, ssha(PASSWORDS["carol"]), uac=514) +
    # two entries with sAMAccountName "dup": ambiguous, never a login
    user("dup", USERS, ssha(PASSWORDS["dup"])) +
    user("dup-2", OTHERS, ssha(PASSWORDS["dup"])) +
    user("erin", USERS, None))             # no userPassword at all

USERS_CONF = """\
# credentials: one user entry by sAMAccountName, then a bind as it
server_host = %(url)s
start_tls = yes
tls_ca_cert_file = %(ca)s
bind_dn = %(binddn)s
bind_pw_file = users.pw
search_base = %(base)s
query_filter = (&(objectClass=user)(sAMAccountName=%%s))
active_directory = yes
timeout = 5s
reconnect_delay = 1s
reconnect_delay_max = 2s
"""


def auth_reply(port, ctx, user, password):
    """The reply to AUTH PLAIN in a fresh session (no failure delay)."""
    c, _ = raw_tls(port, ctx)
    with c:
        return c.cmd("AUTH PLAIN " + plain(user, password), timeout=30)


def logins(t, gw, sink, port, ctx):
    for name, mech in (("alice", "PLAIN"), ("alice", "LOGIN"),
                       ("bob", "LOGIN")):
        def run(name=name, mech=mech):
            mark = gw.mark()
            before = sink.count()
            subject = "ldap auth %s %s" % (mech, name)
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
                s.ehlo("smtplib.test")
                s.starttls(context=ctx)
                s.ehlo("smtplib.test")
                s.user, s.password = name, PASSWORDS[name]
                fn = s.auth_plain if mech == "PLAIN" else s.auth_login
                eq(s.auth(mech, fn),
                   (235, b"2.7.0 Authentication successful"), "AUTH reply")
                s.sendmail(SENDER, [OUTSIDE], "Subject: %s\r\n\r\nhi\r\n"
                           % subject)
            m = sink_has(sink, subject, before)
            eq(m["rcpt_to"], [OUTSIDE], "recipients at the sink")
            gw.wait_log(SMTPD_LOG + r"client=\[127\.0\.0\.1\], "
                        r"sasl_method=%s, sasl_username=%s$" % (mech, name),
                        since=mark)
            true(PASSWORDS[name] not in gw.log(since=mark),
                 "the password is in the log")
        t.case("smtplib starttls + AUTH %s as LDAP user %s (%s "
               "userPassword): 235, relayed to the sink, logged"
               % (mech, name, "{SSHA}" if name == "alice" else "clear"),
               run)


def refusals(t, gw, port, ctx, d):
    def refused(name, password, log=None):
        mark = gw.mark()
        eq(auth_reply(port, ctx, name, password).last,
           "535 5.7.8 Authentication credentials invalid",
           "AUTH PLAIN as %r" % name, gw.log_tail(10))
        if log:
            gw.wait_log(log, since=mark)
        true(password == "" or password not in gw.log(since=mark),
             "the password is in the log")

    t.case("wrong password: 535 5.7.8", refused, "alice", WRONG)
    t.case("unknown user: 535 5.7.8", refused, "mallory", WRONG)
    t.case("an entry without userPassword: 535 5.7.8", refused, "erin",
           WRONG)
    t.case("disabled account (userAccountControl 514) with its right "
           "password: 535, 'account disabled' logged", refused, "carol",
           PASSWORDS["carol"], r"table users: auth user carol: account "
           r"disabled")
    t.case("two entries match the filter: 535 with their password, "
           "logged", refused, "dup", PASSWORDS["dup"],
           r"table users: auth user dup: 2 entries match query_filter")
    t.case("empty password (an LDAP unauthenticated bind): 535, logged",
           refused, "alice", "",
           r"table users: auth user alice: empty password refused")
    def login_empty():
        c, _ = raw_tls(port, ctx)
        with c:
            expect(c.cmd("AUTH LOGIN"), 334)
            expect(c.cmd(b64("alice")), 334)
            eq(c.cmd("", timeout=30).last,
               "535 5.7.8 Authentication credentials invalid",
               "AUTH LOGIN with an empty password line")
    t.case("AUTH LOGIN with an empty password: 535", login_empty)
    for inj in ("*", "al*", "alice)(sAMAccountName=*", "*)(cn=alice"):
        t.case("filter injection %r with alice's password: 535, nobody "
               "logged in" % inj, refused, inj, PASSWORDS["alice"])

    def after():
        mark = gw.mark()
        expect(auth_reply(port, ctx, "alice", PASSWORDS["alice"]), 235,
               what="alice after the refusals")
        eq(gw.log_count(r"client=\[127\.0\.0\.1\], sasl_method=\w+, "
                        r"sasl_username=(\*|al\*|alice\)|carol|dup|erin)",
                        since=0), 0,
           "successful logins of refused names", gw.log_tail(20))
        true(gw.log_count(r"sasl_username=alice$", since=mark) == 1,
             "alice's login not logged")
        eq(gw.log_count(r"table users: connected to %s as %s$"
                        % (re.escape(d.url), re.escape(BIND_DN))), 1,
           "service connections made by the table", gw.log_tail(20))
    t.case("alice still logs in; no refused name was ever logged as a "
           "successful login; the table's service connection, bound as "
           "its bind_dn, was made once and kept through every login",
           after)


def outage(t, gw, port, ctx, d):
    def hung():
        mark = gw.mark()
        os.kill(d.proc.pid, signal.SIGSTOP)
        try:
            r = auth_reply(port, ctx, "alice", PASSWORDS["alice"])
        finally:
            os.kill(d.proc.pid, signal.SIGCONT)
        eq(r.last, "454 4.7.0 Temporary authentication failure",
           "AUTH while slapd does not answer", gw.log_tail(10))
        gw.wait_log(r"table users: auth user alice: ldap server " +
                    re.escape(d.url) + r".*timed out", since=mark)
    t.case("slapd hung (SIGSTOP): 454 4.7.0 at the table's timeout, a log "
           "line naming the server", hung)

    def down():
        d.stop()
        mark = gw.mark()
        r = auth_reply(port, ctx, "alice", PASSWORDS["alice"])
        eq(r.last, "454 4.7.0 Temporary authentication failure",
           "AUTH with slapd stopped", gw.log_tail(10))
        gw.wait_log(r"table users: auth user alice: ldap server " +
                    re.escape(d.url), since=mark)
        eq(gw.log_count(r"authentication failed: .*sasl_username=alice$",
                        since=mark), 0,
           "a directory outage counted as a failed login")
    t.case("slapd stopped: 454 4.7.0 (never 535), a log line naming the "
           "server", down)

    def back():
        d.start()
        deadline = time.monotonic() + 30
        code = None
        while time.monotonic() < deadline:
            code = auth_reply(port, ctx, "alice", PASSWORDS["alice"]).code
            if code == 235:
                break
            eq(code, 454, "AUTH while the reconnect delay runs")
            time.sleep(0.5)
        eq(code, 235, "AUTH once slapd is back", gw.log_tail(10))
    t.case("slapd back: 235 again", back)


def main():
    t = Tap()
    if not os.access("/usr/sbin/slapd", os.X_OK):
        t.bail("/usr/sbin/slapd is not installed (make check installs it)")
        return t.exit()
    tmp = mkdtemp("mxgate-authldap-")
    os.chmod(tmp, 0o755)
    sink = Sink(mkdtemp("mxgate-sink-")).start()
    gw = d = None
    try:
        tlsdir = os.path.join(tmp, "tls")
        os.makedirs(tlsdir)
        cert, key, ca, _ = make_tls(tlsdir)
        for f in (cert, key, ca):
            os.chmod(f, 0o644)
        d = Slapd(tmp, LDIF, "auth", tls=(cert, key, ca))
        with open(d.conf, "a") as f:
            f.write("security simple_bind=128\n")
        mx_crt, mx_key = make_self_signed(tmp, [HOSTNAME, "127.0.0.1"])
        ctx = client_context(mx_crt)
        port, port2 = free_port(), free_port()
        conf = classic_config() + (
            "smtp timeout 20s\n"
            "table users ldap:users.conf\n"
            "table users2 ldap:users-ldaps.conf\n"
            'pki %s cert "%s" key "%s"\n'
            "listen on 127.0.0.1 port %d tls pki %s auth <users>\n"
            "listen on 127.0.0.1 port %d tls pki %s auth <users2>\n"
            'relay from authenticated via "%s"\n'
            % (HOSTNAME, mx_crt, mx_key, port, HOSTNAME, port2, HOSTNAME,
               sink.relay))
        gw = Gateway(None, conf, classic_tables(sink.relay))
        write_file(gw.path("users.conf"), USERS_CONF % {
            "url": d.url, "ca": ca, "binddn": BIND_DN, "base": SUFFIX})
        # the same directory over ldaps://, StartTLS off
        write_file(gw.path("users-ldaps.conf"), USERS_CONF.replace(
            "start_tls = yes\n", "") % {
            "url": d.ldaps_url, "ca": ca, "binddn": BIND_DN,
            "base": SUFFIX})
        write_file(gw.path("users.pw"), BIND_PW + "\n", mode=0o600)
        if not t.case("slapd (StartTLS, binds only under TLS) and a "
                      "gateway with `auth <users>' on an ldap table start",
                      lambda: (d.start(), gw.start())):
            return t.exit()
        logins(t, gw, sink, port, ctx)

        def ldaps():
            expect(auth_reply(port2, ctx, "alice", PASSWORDS["alice"]), 235,
                   what="alice against the ldaps:// table")
            eq(auth_reply(port2, ctx, "alice", WRONG).code, 535,
               "wrong password against the ldaps:// table")
        t.case("a table on ldaps:// (the bind connection speaks TLS from "
               "the start too): 235, wrong password 535", ldaps)
        refusals(t, gw, port, ctx, d)
        outage(t, gw, port, ctx, d)
        t.case("no worker died (the bind connection needs no syscall "
               "lookupd lacks)",
               lambda: eq(gw.log_count(r"killed by|exited with status"), 0,
                          "worker deaths", gw.log_tail(20)))
        t.case("gateway stops cleanly", gw.stop)
    finally:
        if gw is not None:
            gw.cleanup()
        if d is not None:
            d.cleanup()
        sink.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
