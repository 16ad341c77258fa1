"""cdb: tables and tables watched on disk.  A recipients table compiled by
`smtpctl makemap` answers RCPT (listed user 250, unknown 550); running
makemap again is picked up without `smtpctl reload`, and so is a plain
file: table edited in place; a corrupt .cdb written over the live one is
refused with a log line (once) while the old table stays in service; a
corrupt .cdb at start is fatal with a clear message."""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import SMTPCTL, Gateway, classic_tables, write_file  # noqa
from probe import rcpt_code, wait_rcpt_code  # noqa: E402
from tap import Failure, Tap, eq, true  # noqa: E402

RELAY = "smtp:[127.0.0.1]:9"

CONFIG = """\
table domains file:relay_domains
table recipients cdb:relay_recipients.cdb
table aliases file:virtual
table transport file:transport

relay for <domains> recipients <recipients> aliases <aliases> via <transport>
"""

DOMAINS = "example1.com\nexample2.com\n"


def recipients(*users):
    return "".join("%s OK\n" % u for u in users)


def makemap(gw, name="relay_recipients"):
    r = subprocess.run([SMTPCTL, "makemap", gw.path(name)],
                       capture_output=True, text=True, timeout=10,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise Failure("smtpctl makemap: exit %d: %s"
                      % (r.returncode, r.stderr.strip()))
    os.chmod(gw.path(name + ".cdb"), 0o644)
    return r


def write_in_place(path, text):
    """Rewrite a file without a rename: same inode, new size/mtime."""
    with open(path, "w") as f:
        f.write(text)


def main():
    t = Tap()
    tables = classic_tables(RELAY)
    tables["relay_recipients"] = recipients("user1@example1.com",
                                            "User2@Example1.COM")
    tables["relay_domains"] = DOMAINS
    tables["transport"] += "example3.com %s\n" % RELAY
    gw = Gateway(None, CONFIG, tables)
    bad = None
    try:
        def first_makemap():
            r = makemap(gw)
            true("2 entries" in r.stdout, "makemap said %r" % r.stdout)
        if not t.case("smtpctl makemap writes relay_recipients.cdb",
                      first_makemap):
            return t.exit()

        def bad_source():
            p = gw.path("broken")
            write_file(p, "a@example1.com OK\n\tcontinued\n  \n\x00\n")
            r = subprocess.run([SMTPCTL, "makemap", p], capture_output=True,
                               text=True, timeout=10)
            true(r.returncode != 0, "makemap of a bad file exited 0")
            true(re.search(r"broken:4: ", r.stderr),
                 "no file:line in %r" % r.stderr)
            true(not os.path.exists(p + ".cdb"), "broken.cdb was written")
        t.case("makemap refuses a bad source with file:line", bad_source)

        if not t.case("start gateway", gw.start):
            return t.exit()
        t.case("listed user accepted",
               lambda: eq(rcpt_code(gw, "user1@example1.com"), 250, "RCPT"))
        t.case("keys case-folded",
               lambda: eq(rcpt_code(gw, "user2@EXAMPLE1.com"), 250, "RCPT"))
        t.case("unknown user rejected 550",
               lambda: eq(rcpt_code(gw, "nobody@example1.com"), 550, "RCPT"))

        mark = gw.mark()

        def recompile():
            gw.write_table("relay_recipients",
                           recipients("user1@example1.com",
                                      "newuser@example1.com",
                                      "@example3.com"))
            makemap(gw)
            wait_rcpt_code(gw, "newuser@example1.com", 250, 10)
        t.case("makemap again: new user accepted without reload", recompile)
        t.case("logged: table recipients: reloaded 3 entries",
               lambda: gw.wait_log(r"table recipients: reloaded 3 entries "
                                   r"from \S*relay_recipients\.cdb$",
                                   5, since=mark))
        t.case("removed user now rejected",
               lambda: eq(rcpt_code(gw, "user2@example1.com"), 550, "RCPT"))

        def file_table():
            eq(rcpt_code(gw, "anyone@example3.com"), 554,
               "RCPT before example3.com is a relay domain")
            write_in_place(gw.path("relay_domains"),
                           DOMAINS + "example3.com\n")
            wait_rcpt_code(gw, "anyone@example3.com", 250, 10)
            gw.wait_log(r"table domains: reloaded 3 entries", 5, since=mark)
        t.case("file table edited in place: picked up without reload",
               file_table)

        def reload():
            r = gw.ctl("reload")
            eq((r.returncode, r.stdout.strip()), (0, "reload: ok"),
               "smtpctl reload (exit, output)")
            eq(rcpt_code(gw, "newuser@example1.com"), 250, "RCPT")
        t.case("smtpctl reload still works", reload)

        mark = gw.mark()
        with open(gw.path("relay_recipients.cdb"), "rb") as f:
            good = f.read()

        def corrupt():
            # truncated copy renamed over the live file, as a botched
            # copy would leave it
            tmp = gw.path(".cdb.tmp")
            with open(tmp, "wb") as f:
                f.write(good[:len(good) - 10])
            os.chmod(tmp, 0o644)
            os.rename(tmp, gw.path("relay_recipients.cdb"))
            gw.wait_log(r"table recipients: \S*relay_recipients\.cdb "
                        r"changed on disk but does not load, keeping the "
                        r"old tables: .*corrupt cdb file", 10, since=mark)
        t.case("corrupt cdb refused with an error in the log", corrupt)
        t.case("old table still in service",
               lambda: eq(rcpt_code(gw, "newuser@example1.com"), 250,
                          "RCPT"))

        def once():
            time.sleep(4.5)         # two more ticks of the watch timer
            eq(gw.log_count(r"changed on disk but does not load",
                            since=mark), 1, "error lines")
        t.case("the error is logged once per change", once)

        def repaired():
            gw.write_table("relay_recipients",
                           recipients("user1@example1.com",
                                      "fixed@example1.com"))
            makemap(gw)
            wait_rcpt_code(gw, "fixed@example1.com", 250, 10)
            eq(rcpt_code(gw, "newuser@example1.com"), 550, "RCPT")
        t.case("a repaired cdb is picked up again", repaired)
        t.case("stop gateway cleanly", gw.stop)

        # a corrupt cdb at start is fatal, with the reason
        bad = Gateway(None, CONFIG, tables)
        with open(bad.path("relay_recipients.cdb"), "wb") as f:
            f.write(good[:2100])
        os.chmod(bad.path("relay_recipients.cdb"), 0o644)

        def fatal_at_start():
            try:
                bad.start(timeout=10)
            except Failure:
                pass
            else:
                raise Failure("started with a corrupt cdb")
            true(re.search(r"relay_recipients\.cdb: corrupt cdb file",
                           bad.log()),
                 "no clear error", bad.log_tail(10))
        t.case("corrupt cdb at start: fatal with a clear error",
               fatal_at_start)
    finally:
        gw.cleanup()
        if bad:
            bad.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
