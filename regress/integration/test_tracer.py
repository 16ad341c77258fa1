"""smtpctl test rcpt / table lookup / show tables against a real gateway:
each trace shows the steps an administrator needs (the rule, the table
that had the recipient, the alias tree, the transport of each final
recipient) and ends with the reply, which must be exactly what a real
client gets for the same RCPT (checked with a raw SMTP session from the
same client address).  The per-table counters move with real RCPTs, and
a table rewritten on disk is swapped alone with its counters kept."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import Gateway, classic_config, classic_tables  # noqa: E402
from smtp import expect  # noqa: E402
from tap import Failure, Tap, eq, true  # noqa: E402

SENDER = "sender@outside.example.org"
RELAY = "smtp:[127.0.0.1]:9"        # never used: no DATA is sent
TRUSTED = "127.0.0.2"               # classic config: table trusted


def tables():
    tb = classic_tables(RELAY)
    tb["relay_recipients"] += (
        "fwd@example1.com        OK\n"
        "nested@example1.com     OK\n"
        "gone@example1.com       OK\n")
    tb["virtual"] += (
        "fwd@example1.com        someone@outside.example.net\n"
        "nested@example1.com     staff@example1.com, dave@example2.com\n"
        "loop1@example1.com      loop2@example1.com\n"
        "loop2@example1.com      erin@example1.com, loop1@example1.com\n")
    tb["transport"] += "gone@example1.com       error:this user has left\n"
    return tb


def real_rcpt(gw, rcpt, source=None):
    """The reply line a real client gets for RCPT TO:<rcpt>."""
    with gw.client(source=source) as c:
        expect(c.banner(), 220)
        expect(c.cmd("EHLO client.test"), 250)
        expect(c.cmd("MAIL FROM:<%s>" % SENDER), 250)
        r = c.cmd("RCPT TO:<%s>" % rcpt)
        c.cmd("QUIT")
        return r.last


def trace(gw, rcpt, source=None):
    """smtpctl test rcpt: (the trace lines, the reply line)."""
    args = ["test", "rcpt", rcpt, "sender", SENDER]
    if source:
        args += ["from", source]
    r = gw.ctl(*args)
    if r.returncode != 0:
        raise Failure("smtpctl %s: exit %d: %s" % (" ".join(args),
                                                   r.returncode, r.stderr))
    lines = r.stdout.splitlines()
    if len(lines) < 2 or lines[-2] != "reply:":
        raise Failure("no reply at the end of the trace", r.stdout)
    return lines, lines[-1]


def has(lines, text):
    true(any(text in l for l in lines), "trace lacks %r" % text,
         "\n".join(lines))


def same_reply(gw, rcpt, source, want_prefix):
    """The traced reply is what the client gets, and starts as wanted."""
    lines, reply = trace(gw, rcpt, source)
    got = real_rcpt(gw, rcpt, source)
    eq(reply, got, "traced reply vs. real RCPT reply", "\n".join(lines))
    true(reply.startswith(want_prefix), "reply %r is not %r..." %
         (reply, want_prefix), "\n".join(lines))
    return lines


def show_tables(gw):
    """{name: {field: value}} from smtpctl show tables."""
    r = gw.ctl("show", "tables")
    eq(r.returncode, 0, "show tables exit", r.stderr)
    out = {}
    for line in r.stdout.splitlines():
        w = line.split()
        out[w[0]] = dict(f.split("=", 1) for f in w[1:])
    return out


def main():
    t = Tap()
    gw = Gateway(None, classic_config(), tables())
    try:
        if not t.case("start gateway", gw.start):
            return t.exit()

        def valid():
            lines = same_reply(gw, "alice@example1.com", None,
                               "250 2.1.5 Ok")
            has(lines, "relay rule 1 (relay for <domains>, inline): domain "
                "example1.com is listed")
            has(lines, 'table <recipients> (file): "alice@example1.com" '
                'found: "OK"')
            has(lines, "<alice@example1.com>: no alias: final recipient")
            has(lines, "final recipient <alice@example1.com> relay " + RELAY)
        t.case("valid user: found in <recipients>, 250", valid)

        def unknown():
            lines = same_reply(gw, "nobody@example1.com", None,
                               "550 5.1.1 <nobody@example1.com>: Recipient "
                               "address rejected: User unknown")
            has(lines, 'table <recipients> (file): "@example1.com" not '
                'found')
            has(lines, "in none of the rule's recipients tables")
        t.case("unknown user: 550 5.1.1 as a real RCPT gets it", unknown)

        def nested():
            lines = same_reply(gw, "nested@example1.com", None, "250 ")
            # the tree: staff@ one level down, its members two levels
            has(lines, "  <nested@example1.com> -> staff@example1.com, "
                "dave@example2.com")
            has(lines, "    <staff@example1.com> -> alice@example1.com")
            has(lines, "      <carol@example2.com>: no alias: final "
                "recipient")
            has(lines, "    <dave@example2.com>: no alias: final recipient")
            n = len([l for l in lines if l.startswith("final recipient")])
            eq(n, 4, "final recipients")
        t.case("list alias expanded recursively, as a tree", nested)

        def loop():
            lines = same_reply(gw, "loop1@example1.com", None,
                               "451 4.3.0 <loop1@example1.com>: Temporary "
                               "lookup failure")
            has(lines, "    <loop2@example1.com> -> erin@example1.com, "
                "loop1@example1.com")
            has(lines, "      <erin@example1.com>: no alias: final recipient")
            has(lines, "      <loop1@example1.com>: LOOP")
        t.case("alias loop: shown where it closes, 451 (never 5xx)", loop)

        def forward():
            lines = same_reply(gw, "fwd@example1.com", None, "250 ")
            has(lines, "<fwd@example1.com> -> someone@outside.example.net")
            has(lines, 'table <transport> (file): "outside.example.net" not '
                'found')
            has(lines, "final recipient <someone@outside.example.net> relay "
                "smtp:outside.example.net")
        t.case("forward to an outside domain: its own transport", forward)

        def outside_trusted():
            lines = same_reply(gw, "x@other.example.org", TRUSTED, "250 ")
            has(lines, "domain other.example.org is not listed")
            has(lines, "client %s is in these networks" % TRUSTED)
        t.case("outside domain from a trusted client: relayed",
               outside_trusted)

        def outside_untrusted():
            lines = same_reply(gw, "x@other.example.org", "127.0.0.1",
                               "554 5.7.1 <x@other.example.org>: Relay "
                               "access denied")
            has(lines, "client 127.0.0.1 is not in these networks")
            has(lines, "no rule: other.example.org is not a relayed domain")
        t.case("outside domain from an untrusted client: 554 5.7.1",
               outside_untrusted)

        def default_client():
            lines, reply = trace(gw, "x@other.example.org")
            has(lines, "from client 0.0.0.0 (default: an outside client)")
            eq(reply, "554 5.7.1 <x@other.example.org>: Relay access denied",
               "reply")
        t.case("without `from`: an outside client", default_client)

        def error_transport():
            lines = same_reply(gw, "gone@example1.com", None,
                               "550 5.7.1 <gone@example1.com>: Recipient "
                               "address rejected: this user has left")
            has(lines, 'table <transport> (file): "gone@example1.com" '
                'found: "error:this user has left"')
            has(lines, 'transport error: rejects the RCPT')
        t.case("error: transport: 550 with its text", error_transport)

        def bad_args():
            r = gw.ctl("test", "rcpt", "alice@example1.com", "from", "nope")
            eq(r.returncode, 1, "exit for a bad client address")
            true("invalid client address" in r.stderr, r.stderr)
            r = gw.ctl("test", "rcpt", "not an address")
            eq(r.returncode, 1, "exit for a bad recipient")
            true("invalid recipient address" in r.stderr, r.stderr)
            r = gw.ctl("test", "rcpt", "a@example1.com", "bogus", "x")
            eq(r.returncode, 2, "exit for a usage error")
        t.case("bad arguments: clear errors, non-zero exit", bad_args)

        def lookup():
            r = gw.ctl("table", "lookup", "recipients", "Alice@Example1.com")
            eq((r.returncode, r.stdout.strip()),
               (0, 'table <recipients> (file): "Alice@Example1.com" found: '
                '"OK"'), "found")
            r = gw.ctl("table", "lookup", "transport", "example2.com")
            eq(r.stdout.strip(), 'table <transport> (file): "example2.com" '
               'found: "%s"' % RELAY, "transport value")
            r = gw.ctl("table", "lookup", "recipients", "zed@example1.com")
            eq((r.returncode, r.stdout.strip()),
               (1, 'table <recipients> (file): "zed@example1.com" not '
                'found'), "not found")
            r = gw.ctl("table", "lookup", "nosuch", "x")
            eq((r.returncode, r.stderr.strip()), (1, "no such table"),
               "unknown table")
        t.case("table lookup: value, not found, unknown table", lookup)

        def counters():
            before = show_tables(gw)["recipients"]
            eq((before["backend"], before["entries"], before["cache"]),
               ("file", "12", "-"), "recipients line")
            # alice: one hit; nobody: "nobody@..." and "@example1.com" miss
            eq(real_rcpt(gw, "alice@example1.com")[:3], "250", "RCPT")
            eq(real_rcpt(gw, "nobody@example1.com")[:3], "550", "RCPT")
            after = show_tables(gw)["recipients"]
            got = {k: int(after[k]) - int(before[k])
                   for k in ("lookups", "hits", "misses", "errors")}
            eq(got, {"lookups": 3, "hits": 1, "misses": 2, "errors": 0},
               "counter increments after two real RCPTs")
            return after
        before = t.case("show tables: counters follow real RCPTs", counters)

        def reload_one():
            old = show_tables(gw)
            time.sleep(1.1)         # loaded= has a resolution of 1 s
            mark = gw.mark()
            gw.write_table("relay_recipients",
                           tables()["relay_recipients"] +
                           "zed@example1.com OK\n")
            gw.wait_log(r"table recipients: reloaded 13 entries", 10,
                        since=mark)
            now = show_tables(gw)
            eq(now["recipients"]["entries"], "13", "entries after reload")
            true(now["recipients"]["loaded"] != old["recipients"]["loaded"],
                 "loaded= did not move")
            true(int(now["recipients"]["lookups"]) >=
                 int(old["recipients"]["lookups"]), "counters were reset")
            for name in ("domains", "aliases", "transport", "trusted"):
                eq(now[name]["loaded"], old[name]["loaded"],
                   "loaded= of %s (not reloaded)" % name)
            eq(gw.log_count(r"table (aliases|transport): reloaded",
                            since=mark), 0, "other tables reloaded")
            eq(real_rcpt(gw, "zed@example1.com")[:3], "250", "new user")
        if before:
            t.case("a changed table is reloaded alone, counters kept",
                   reload_one)
        t.case("stop gateway cleanly", gw.stop)
    finally:
        gw.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
