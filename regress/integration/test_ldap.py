"""ldap: tables against a real slapd on loopback, loaded with an Active
Directory look-alike (regress/ldap/ad.schema): users found by mail and
by proxyAddresses (smtp:/SMTP:), a disabled account refused, a
distribution list with a nested group and a loop accepted and expanded
to its members' addresses (checked at the sink), filter injection
attempts answered as unknown users, failover to a second slapd when the
first is killed, 451 (never 5xx) with a log line naming the server when
every slapd is down, cached recipients served while the directory is
down (serve_stale), acceptance again after a restart, a hung slapd
holding up only its own RCPT (451 at the timeout) while other lookups
are answered, the table surviving smtpctl reload, a wrong bind
password (451, clear log line), a missing search base (451, not 550),
a password file readable by others and a broken ldap config refused at
start (file:line), and StartTLS (and ldaps://) to a slapd that requires
TLS, with a CA made here by openssl."""

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import SMTPD, Gateway, mkdtemp, write_file  # noqa: E402
from probe import rcpt_code, wait_rcpt_code  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import expect  # noqa: E402
from slapd import BIND_DN, BIND_PW, SUFFIX, Slapd  # noqa: E402
from pki import make_ca, make_server_cert  # noqa: E402
from tap import Tap, eq, true  # noqa: E402

USERS = "ou=Users," + SUFFIX
LISTS = "ou=Exchange Distribution Lists," + SUFFIX


def user(cn, mail=None, proxies=(), uac=512):
    text = ("dn: cn=%s,%s\nobjectClass: user\ncn: %s\nsn: %s\n"
            "userAccountControl: %d\n" % (cn, USERS, cn, cn, uac))
    if mail:
        text += "mail: %s\n" % mail
    for p in proxies:
        text += "proxyAddresses: %s\n" % p
    return text + "\n"


def group(cn, mail, members):
    text = "dn: cn=%s,%s\nobjectClass: group\ncn: %s\nmail: %s\n" % (
        cn, LISTS, cn, mail)
    for m in members:
        text += "member: %s\n" % m
    return text + "\n"


def dn(cn, ou=USERS):
    return "cn=%s,%s" % (cn, ou)


AD_LDIF = (
    "dn: %s\nobjectClass: organizationalUnit\nou: Users\n\n" % USERS +
    "dn: %s\nobjectClass: organizationalUnit\nou: Exchange Distribution "
    "Lists\n\n" % LISTS +
    user("alice", "alice@example1.com",
         ("SMTP:alice@example1.com", "smtp:al@example1.com",
          "smtp:Alice.Smith@example2.com")) +
    user("bob", "bob@example1.com", ("SMTP:bob@example1.com",)) +
    user("carol", "carol@example1.com", ("SMTP:carol@example1.com",),
         uac=514) +
    user("erin", "erin@example2.com", ("SMTP:erin@example2.com",)) +
    user("frank", "frank@example1.com", ("SMTP:frank@example1.com",)) +
    user("gina", "gina@example1.com", ("SMTP:gina@example1.com",)) +
    user("hank", "hank@example1.com", ("SMTP:hank@example1.com",)) +
    user("ivan", "ivan@example1.com", ("SMTP:ivan@example1.com",)) +
    group("staff", "staff@example1.com",
          (dn("alice"), dn("bob"), dn("carol"), dn("team", LISTS))) +
    group("team", "team@example2.com",
          (dn("erin"), dn("bob"), dn("staff", LISTS))) +
    group("empty", "empty@example1.com", ()))

LDAP_CONF = """\
# the gateway's view of "Active Directory"
server_host = %(servers)s
bind_dn = %(binddn)s
bind_pw_file = ad.pw
search_base = %(users)s
active_directory = yes
group_search_base = %(lists)s
timeout = 5s
cache_ttl = %(ttl)s
negative_cache_ttl = 1s
serve_stale = yes
reconnect_delay = 1s
reconnect_delay_max = 2s
%(extra)s"""


def gateway_conf(relay):
    return """\
table domains { example1.com, example2.com }
table ad ldap:ad.conf
table otherdomains { other.example }
table others { x@other.example }
relay for <domains> recipients <ad> aliases <ad> via "%s"
relay for <otherdomains> recipients <others> via "%s"
""" % (relay, relay)


def make_gateway(servers, relay, pw=BIND_PW, ttl="2s", extra="",
                 users=USERS):
    gw = Gateway(None, gateway_conf(relay))
    write_file(gw.path("ad.conf"), LDAP_CONF % {
        "servers": " ".join(servers), "binddn": BIND_DN, "users": users,
        "lists": LISTS, "ttl": ttl, "extra": extra})
    write_file(gw.path("ad.pw"), pw + "\n", mode=0o600)
    return gw


def expect_code(gw, rcpt, want):
    got = rcpt_code(gw, rcpt)
    eq(got, want, "RCPT TO:<%s>" % rcpt, gw.log_tail(15))


def make_tls(d):
    """A CA and a server certificate for 127.0.0.1, and another CA."""
    ca = make_ca(d)
    crt, key = make_server_cert(d, "server", ca, ["127.0.0.1"])
    other = make_ca(d, "other", "other CA")
    return crt, key, ca[1], other[1]


def directory_cases(t, tmp):
    a = Slapd(tmp, AD_LDIF, "a")
    b = Slapd(tmp, AD_LDIF, "b")
    sink = Sink(os.path.join(tmp, "sink"))
    gw = make_gateway([a.url, b.url], sink.relay)
    try:
        a.start()
        b.start()
        sink.start()
        gw.start()
        t.case("user by mail: 250", expect_code, gw, "alice@example1.com",
               250)
        t.case("user by proxyAddresses smtp: (secondary): 250",
               expect_code, gw, "al@example1.com", 250)
        t.case("proxyAddresses match is case-insensitive: 250",
               expect_code, gw, "alice.smith@EXAMPLE2.com", 250)
        t.case("disabled account (userAccountControl 514): 550",
               expect_code, gw, "carol@example1.com", 550)
        t.case("unknown user: 550", expect_code, gw, "nobody@example1.com",
               550)
        for inj in ("*@example1.com", "al*@example1.com",
                    '"*)(mail=*"@example1.com',
                    '"alice@example1.com)(mail=*"@example1.com'):
            t.case("filter injection %s: 550, not a match" % inj,
                   expect_code, gw, inj, 550)
        t.case("empty distribution list: 250", expect_code, gw,
               "empty@example1.com", 250)

        def dl():
            gw.send("sender@outside.example.org", ["staff@example1.com"])
            sink.wait_count(1)
            got = sorted(r.lower() for r in sink.recipients())
            eq(got, ["alice@example1.com", "bob@example1.com",
                     "erin@example2.com"],
               "members delivered for staff@ (nested team, loop back "
               "to staff, disabled carol left out)", gw.log_tail(20))
            true(gw.log_count(r"group loop or repeated member") > 0,
                 "no log line about the loop", gw.log_tail(20))
        t.case("distribution list with nested group and loop expands to "
               "its members", dl)

        def alias_rewrite():
            gw.send("sender@outside.example.org", ["al@example1.com"])
            sink.wait_count(2)
            eq(sink.messages()[-1]["rcpt_to"], ["alice@example1.com"],
               "proxy address delivered to the primary mail")
        t.case("secondary proxy address delivered to the primary one",
               alias_rewrite)

        def failover():
            mark = gw.mark()
            a.stop()
            expect_code(gw, "frank@example1.com", 250)
            true(gw.log_count(re.escape(a.url), since=mark) > 0,
                 "no log line naming %s" % a.url, gw.log_tail(15))
        t.case("first slapd killed: failover to the second, 250", failover)

        def all_down():
            mark = gw.mark()
            b.stop()
            expect_code(gw, "gina@example1.com", 451)
            true(gw.log_count(re.escape(b.url) + r".*(refused|lost|"
                              r"contact)", since=mark) > 0,
                 "no log line naming %s and the error" % b.url,
                 gw.log_tail(15))
            expect_code(gw, "nobody2@example1.com", 451)
        t.case("every slapd down: uncached recipients 451 4.3.0 with a "
               "log line naming the server", all_down)

        def stale():
            time.sleep(2.5)     # let alice's 2s cache entry expire
            mark = gw.mark()
            expect_code(gw, "alice@example1.com", 250)
            true(gw.log_count(r"serving cached recipients", since=mark)
                 > 0, "no serving-stale log line", gw.log_tail(15))
            expect_code(gw, "bob2@example1.com", 451)
        t.case("directory down: cached-valid recipient still 250 "
               "(serve_stale), others 451", stale)

        def back():
            a.start()
            wait_rcpt_code(gw, "gina@example1.com", 250, timeout=20)
            expect_code(gw, "carol@example1.com", 550)
        t.case("slapd restarted: accepted again", back)

        def reload_keeps():
            with open(gw.path("ad.conf"), "a") as f:
                f.write("# edited\n")
            r = gw.ctl("reload")
            eq(r.returncode, 0, "smtpctl reload exit status",
               r.stdout + r.stderr)
            gw.wait_log(r"reload: done")
            expect_code(gw, "frank@example1.com", 250)
            expect_code(gw, "carol@example1.com", 550)
            true(gw.log_count(r"ad\.conf changed on disk; ldap files are "
                              r"read at start only") > 0,
                 "no log line about the edited ldap file", gw.log_tail(10))
        t.case("smtpctl reload keeps the ldap table working (an edited "
               "ldap file: restart needed, said in the log)", reload_keeps)

        def slow():
            os.kill(a.proc.pid, signal.SIGSTOP)
            try:
                with gw.client(timeout=30) as c:
                    expect(c.banner(), 220)
                    expect(c.cmd("EHLO client.test"), 250)
                    expect(c.cmd("MAIL FROM:<s@outside.example.org>"), 250)
                    c.send("RCPT TO:<hank@example1.com>")
                    # meanwhile another session, a file-table recipient
                    eq(rcpt_code(gw, "x@other.example"), 250,
                       "RCPT in another session")
                    ready, _, _ = select.select([c.sock], [], [], 0)
                    true(not ready and not c.buf, "the RCPT waiting for "
                         "the hung directory was answered first: lookups "
                         "are blocking", gw.log_tail(10))
                    expect(c.reply(timeout=30), 451, what="RCPT to the "
                           "hung directory")
                true(gw.log_count(re.escape(a.url) + r".*timed out") > 0,
                     "no time-out log line", gw.log_tail(10))
            finally:
                os.kill(a.proc.pid, signal.SIGCONT)
            wait_rcpt_code(gw, "ivan@example1.com", 250, timeout=30)
        t.case("hung slapd: other lookups answered meanwhile, the waiting "
               "RCPT gets 451 at the timeout, then acceptance again", slow)
        gw.stop()
    finally:
        gw.cleanup()
        a.cleanup()
        b.cleanup()
        sink.cleanup()


def bind_cases(t, tmp):
    a = Slapd(tmp, AD_LDIF, "bind")
    gw = make_gateway([a.url], "smtp:[127.0.0.1]:9", pw="wrong-password")
    try:
        a.start()
        gw.start()

        def wrong_pw():
            expect_code(gw, "alice@example1.com", 451)
            true(gw.log_count(r"bind as %s: Invalid credentials"
                              % re.escape(BIND_DN)) > 0,
                 "no clear bind log line", gw.log_tail(15))
        t.case("wrong bind password: 451 and a log line", wrong_pw)
        gw.stop()

        def no_base():
            gw4 = make_gateway([a.url], "smtp:[127.0.0.1]:9",
                               users="ou=Nowhere," + SUFFIX)
            try:
                gw4.start()
                expect_code(gw4, "alice@example1.com", 451)
                true(gw4.log_count(r"ou=Nowhere.*No such object") > 0,
                     "no log line naming the base", gw4.log_tail(15))
                gw4.stop()
            finally:
                gw4.cleanup()
        t.case("search base that does not exist: 451, never 550, logged",
               no_base)

        def open_pw():
            os.chmod(gw.path("ad.pw"), 0o644)
            r = subprocess.run([SMTPD, "-n", "-f", gw.conf],
                               capture_output=True, text=True, timeout=20,
                               stdin=subprocess.DEVNULL)
            true(r.returncode != 0, "smtpd -n accepted it")
            true("ad.pw: bind password file is accessible by group or "
                 "others" in r.stderr, "stderr: %r" % r.stderr)
        t.case("password file readable by others: refused at start",
               open_pw)

        def broken():
            write_file(gw.path("ad.conf"), "server_host = %s\n"
                       "search_base = %s\nscope = deep\n" % (a.url, USERS))
            r = subprocess.run([SMTPD, "-n", "-f", gw.conf],
                               capture_output=True, text=True, timeout=20,
                               stdin=subprocess.DEVNULL)
            true(r.returncode != 0, "smtpd -n accepted it")
            true(re.search(r"^" + re.escape(gw.path("ad.conf")) +
                           r":3: scope", r.stderr, re.M),
                 "stderr: %r" % r.stderr)
        t.case("broken ldap config: file:line at start, exit != 0", broken)
    finally:
        gw.cleanup()
        a.cleanup()


def tls_cases(t, tmp):
    tlsdir = os.path.join(tmp, "tls")
    os.makedirs(tlsdir)
    cert, key, ca, other = make_tls(tlsdir)
    for f in (cert, key, ca, other):
        os.chmod(f, 0o644)
    a = Slapd(tmp, AD_LDIF, "tls", tls=(cert, key, ca))
    # slapd refuses a simple bind without TLS: only StartTLS can work
    with open(a.conf, "a") as f:
        f.write("security simple_bind=128\n")
    gw = make_gateway([a.url], "smtp:[127.0.0.1]:9",
                      extra="start_tls = yes\ntls_ca_cert_file = %s\n" % ca)
    gw2 = make_gateway([a.url], "smtp:[127.0.0.1]:9",
                       extra="start_tls = yes\ntls_ca_cert_file = %s\n"
                       % other)
    gw3 = make_gateway([a.url], "smtp:[127.0.0.1]:9")
    gw4 = make_gateway([a.ldaps_url], "smtp:[127.0.0.1]:9",
                       extra="tls_ca_cert_file = %s\n" % ca)
    try:
        a.start()
        gw.start()
        t.case("StartTLS with the test CA: 250", expect_code, gw,
               "alice@example1.com", 250)
        t.case("StartTLS: unknown user 550", expect_code, gw,
               "nobody@example1.com", 550)
        gw.stop()
        gw2.start()

        def bad_ca():
            expect_code(gw2, "alice@example1.com", 451)
            true(gw2.log_count(r"TLS: ") > 0, "no TLS log line",
                 gw2.log_tail(15))
        t.case("StartTLS with a CA that did not sign the server: 451",
               bad_ca)
        gw2.stop()
        gw3.start()

        def plain():
            expect_code(gw3, "alice@example1.com", 451)
            true(gw3.log_count(r"bind as .*(Confidentiality|stronger)") >
                 0, "no bind refusal logged", gw3.log_tail(15))
        t.case("same slapd without StartTLS: bind refused, 451", plain)
        gw3.stop()
        gw4.start()
        t.case("ldaps:// with the test CA: 250", expect_code, gw4,
               "al@example1.com", 250)
        gw4.stop()
    finally:
        gw.cleanup()
        gw2.cleanup()
        gw3.cleanup()
        gw4.cleanup()
        a.cleanup()


def main():
    t = Tap()
    if not os.access("/usr/sbin/slapd", os.X_OK):
        t.bail("/usr/sbin/slapd is not installed (make check installs it)")
        return t.exit()
    tmp = mkdtemp("mxgate-ldap-")
    try:
        directory_cases(t, tmp)
        bind_cases(t, tmp)
        tls_cases(t, tmp)
    finally:
        if not os.environ.get("MXGATE_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
