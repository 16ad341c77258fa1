"""smtpctl against an Active Directory look-alike (a real slapd on
loopback, regress/ldap/ad.schema):

- `smtpctl ldap-export` writes the valid recipients (mail and smtp:
  proxyAddresses of enabled users, distribution lists) as a Postfix
  table, replaced atomically; a gateway with only that file accepts and
  refuses the same addresses as the directory says; with the directory
  down or a wrong password the old file stays and the exit is 1;
- `smtpctl test rcpt` through an ldap table waits for the directory,
  shows the lookup as a cache hit of table <ad> (ldap) and ends with the
  reply a real RCPT gets; `show tables` shows the ldap cache."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import SMTPCTL, Gateway, mkdtemp, write_file  # noqa: E402
from probe import rcpt_code  # noqa: E402
from slapd import BIND_DN, BIND_PW, SUFFIX, Slapd  # noqa: E402
from smtp import expect  # noqa: E402
from tap import Failure, Tap, eq, true  # noqa: E402

import shutil  # noqa: E402
import subprocess  # noqa: E402

USERS = "ou=Users," + SUFFIX
LISTS = "ou=Exchange Distribution Lists," + SUFFIX


def user(cn, mail, proxies=(), uac=512):
    text = ("dn: cn=%s,%s\nobjectClass: user\ncn: %s\nsn: %s\n"
            "userAccountControl: %d\n" % (cn, USERS, cn, cn, uac))
    if mail:
        text += "mail: %s\n" % mail
    for p in proxies:
        text += "proxyAddresses: %s\n" % p
    return text + "\n"


LDIF = (
    "dn: %s\nobjectClass: organizationalUnit\nou: Users\n\n" % USERS +
    "dn: %s\nobjectClass: organizationalUnit\nou: Exchange Distribution "
    "Lists\n\n" % LISTS +
    user("alice", "Alice@Example1.com",
         ("SMTP:alice@example1.com", "smtp:al@example1.com",
          "X500:/o=Example/cn=alice", "smtp:Alice.Smith@example2.com")) +
    user("bob", "bob@example1.com") +
    user("carol", "carol@example1.com", ("SMTP:carol@example1.com",
                                         "smtp:cc@example1.com"), uac=514) +
    user("noaddr", None, ("SIP:noaddr@example1.com",)) +
    "dn: cn=staff,%s\nobjectClass: group\ncn: staff\n"
    "mail: staff@example1.com\nmember: cn=alice,%s\n\n" % (LISTS, USERS))

WANT = ["al@example1.com", "alice.smith@example2.com", "alice@example1.com",
        "bob@example1.com", "staff@example1.com"]

LDAP_CONF = """\
server_host = %s
bind_dn = %s
bind_pw_file = ad.pw
search_base = %s
active_directory = yes
group_search_base = %s
timeout = 5s
reconnect_delay = 1s
"""


def export(conf, out):
    return subprocess.run([SMTPCTL, "ldap-export", conf, out],
                          capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def table_lines(path):
    with open(path) as f:
        return [l.split()[0] for l in f if l.strip() and l[0] != "#"]


def main():
    t = Tap()
    tmp = mkdtemp("mxgate-ldaptools-")
    os.chmod(tmp, 0o755)
    d = Slapd(tmp, LDIF)
    conf = os.path.join(tmp, "ad.conf")
    out = os.path.join(tmp, "relay_recipients")
    write_file(conf, LDAP_CONF % (d.url, BIND_DN, USERS, LISTS))
    write_file(os.path.join(tmp, "ad.pw"), BIND_PW + "\n", mode=0o600)
    gw = None
    try:
        if not t.case("start slapd", d.start):
            return t.exit()

        def first():
            r = export(conf, out)
            eq(r.returncode, 0, "exit", r.stderr)
            true(r.stdout.startswith("%s: 5 addresses (1 disabled" % out),
                 "summary line: %r" % r.stdout)
            eq(table_lines(out), WANT, "exported addresses")
            eq(os.stat(out).st_mode & 0o777, 0o644, "mode")
            true(not [f for f in os.listdir(tmp) if ".ldap-export" in f],
                 "temp file left behind")
        t.case("ldap-export: enabled users' mail and smtp: proxies, groups",
               first)

        def gateway():
            nonlocal gw
            gw = Gateway(None, "table domains { example1.com, example2.com }"
                         "\ntable recipients file:%s\nrelay for <domains> "
                         "recipients <recipients>\n" % out)
            gw.start()
            for a in ("al@example1.com", "Alice.Smith@example2.com",
                      "staff@example1.com"):
                eq(rcpt_code(gw, a), 250, "RCPT " + a)
            for a in ("carol@example1.com", "cc@example1.com",
                      "noaddr@example1.com"):
                eq(rcpt_code(gw, a), 550, "RCPT " + a)
        t.case("a gateway using only the export agrees with the directory",
               gateway)

        def wrong_password():
            before = os.stat(out)
            write_file(os.path.join(tmp, "ad.pw"), "wrong\n", mode=0o600)
            r = export(conf, out)
            write_file(os.path.join(tmp, "ad.pw"), BIND_PW + "\n",
                       mode=0o600)
            eq(r.returncode, 1, "exit", r.stdout)
            true("left as it was" in r.stderr and
                 "nvalid credentials" in r.stderr, r.stderr)
            eq(os.stat(out).st_ino, before.st_ino, "file replaced")
        t.case("wrong bind password: exit 1, table untouched",
               wrong_password)

        def down():
            d.stop()
            before = os.stat(out)
            r = export(conf, out)
            eq(r.returncode, 1, "exit", r.stdout)
            true(d.url in r.stderr, "server not named: %r" % r.stderr)
            eq((os.stat(out).st_ino, table_lines(out)),
               (before.st_ino, WANT), "table after a failed export")
        t.case("directory down: exit 1 naming the server, table untouched",
               down)
    finally:
        if gw is not None:
            gw.cleanup()
        d.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    tracer(t)
    return t.exit()


GW_CONF = """\
table domains { example1.com, example2.com }
table ad ldap:ad.conf
relay for <domains> recipients <ad> via "smtp:[127.0.0.1]:9"
"""


def tracer(t):
    tmp = mkdtemp("mxgate-ldaptrace-")
    os.chmod(tmp, 0o755)
    d = Slapd(tmp, LDIF)
    gw = Gateway(None, GW_CONF)
    write_file(gw.path("ad.conf"), LDAP_CONF % (d.url, BIND_DN, USERS,
                                                LISTS))
    write_file(gw.path("ad.pw"), BIND_PW + "\n", mode=0o600)
    try:
        if not (t.case("start slapd", d.start) and
                t.case("start gateway with an ldap table", gw.start)):
            return

        def traced(rcpt, want):
            r = gw.ctl("test", "rcpt", rcpt)
            eq(r.returncode, 0, "exit", r.stderr)
            lines = r.stdout.splitlines()
            with gw.client() as c:
                expect(c.banner(), 220)
                expect(c.cmd("EHLO client.test"), 250)
                expect(c.cmd("MAIL FROM:<>"), 250)
                real = c.cmd("RCPT TO:<%s>" % rcpt).last
            eq(lines[-1], real, "traced vs. real reply", r.stdout)
            true(lines[-1].startswith(want), lines[-1])
            return lines

        def valid():
            lines = traced("bob@example1.com", "250 ")
            true(any(l.startswith('  table <ad> (ldap): "bob@example1.com" '
                                  'found') for l in lines), r"\n".join(lines))
            true(any("cache hit (found), age" in l for l in lines),
                 "no cache note")
            true(any("asked a directory first" in l for l in lines),
                 "no round note")
        t.case("test rcpt through ldap: waits, cache hit, real reply", valid)

        def disabled():
            lines = traced("carol@example1.com", "550 5.1.1 ")
            true(any("cache hit (not found)" in l for l in lines),
                 "\n".join(lines))
        t.case("test rcpt of a disabled account: 550 as a real RCPT",
               disabled)

        def tables():
            r = gw.ctl("show", "tables")
            line = [l for l in r.stdout.splitlines()
                    if l.startswith("ad ")]
            true(line and "backend=ldap" in line[0] and
                 "cache=" in line[0] and "cache=-" not in line[0] and
                 "server=%s" % d.url in line[0], r.stdout)
            f = dict(x.split("=", 1) for x in line[0].split()[1:])
            true(int(f["cache_found"]) >= 1 and
                 int(f["cache_notfound"]) >= 1, line[0])
            eq(f["errors"], "0", "errors (a pending query is not one)")
        t.case("show tables: the ldap cache, no errors counted", tables)

        def lookup():
            r = gw.ctl("table", "lookup", "ad", "al@example1.com")
            eq(r.returncode, 0, "exit", r.stdout + r.stderr)
            true(r.stdout.startswith('table <ad> (ldap): "al@example1.com" '
                                     'found'), r.stdout)
        t.case("table lookup through ldap", lookup)
    except Failure:
        raise
    finally:
        gw.cleanup()
        d.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
