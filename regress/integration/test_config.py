"""smtpd -n: the sample config and a config using every statement (include,
macros, inline and file tables, listeners, relay rules, limits, queue
settings) are printed normalised, and the printed text parses again to the
same text; broken configs give `file:line: message` on stderr and a
non-zero exit status."""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import REPO, SMTPD, mkdtemp, write_file  # noqa: E402
from tap import Failure, Tap, true  # noqa: E402

MAIN = """\
# every statement of the grammar
listen_ip = "127.0.0.1"
include "tables.conf"
hostname mx.test.example
origin example.com
spool "%(dir)s/spool"
control "%(dir)s/control.sock" group mail
chroot-dir "/var/empty"
user _mxgate
queue-user _mxgateq
max-message-size 20M
max-recipients 500
queue retry-min 30s
queue retry-max 2h
queue lifetime 3d
show-table-name yes
listen on $listen_ip port 2525
listen on ::1 port 2526
relay for <domains> recipients <recipients> aliases <aliases> via <transport>
relay for <other> via "smtp:[127.0.0.1]:2527"
relay from <trusted> via <transport>
relay from <trusted>
"""

TABLES = """\
table domains { example1.com, example2.com, subdomain.example.com }
table other { other.example }
table recipients file:relay_recipients
table aliases file:virtual
table transport file:transport
table trusted { 127.0.0.0/8, ::1, 172.16.42.0/24 }
"""

BROKEN = [
    # (name, main text, file with the error ("main" or "inc"), line)
    ("unknown keyword",
     "hostname mx.test.example\n\nbogus keyword here\n", "main", 3),
    ("bad size suffix",
     "hostname mx.test.example\nmax-message-size 10Q\n", "main", 2),
    ("undefined table in a rule",
     "table domains { a.example }\n\n\nrelay for <nosuch>\n", "main", 4),
    ("unterminated string",
     "spool \"/var/spool/mxgate\nhostname x.example\n", "main", 1),
    ("port out of range",
     "hostname mx.test.example\nlisten on 127.0.0.1 port 99999\n", "main", 2),
    ("undefined macro",
     "listen on $nope port 25\n", "main", 1),
    ("bad duration",
     "queue retry-min 5x\n", "main", 1),
    ("error in an included file",
     "# comment\ninclude \"inc.conf\"\n", "inc", 2),
]


def run_n(path):
    return subprocess.run([SMTPD, "-n", "-f", path], capture_output=True,
                          text=True, timeout=20, stdin=subprocess.DEVNULL)


def normalise_ok(path, what):
    r = run_n(path)
    if r.returncode != 0:
        raise Failure("%s: smtpd -n exit %d: %s"
                      % (what, r.returncode, r.stderr.strip()[:300]))
    true(r.stdout.strip(), "%s: smtpd -n printed nothing" % what)
    return r.stdout


def roundtrip(text, where):
    """Write text to a fresh file in another directory, -n it, compare."""
    path = os.path.join(where, "printed.conf")
    write_file(path, text)
    again = normalise_ok(path, "printed config")
    if again != text:
        import difflib
        diff = "".join(difflib.unified_diff(
            text.splitlines(True), again.splitlines(True), "first -n",
            "second -n"))
        raise Failure("-n of the printed config differs", diff)


def main():
    t = Tap()
    d = mkdtemp("mxgate-conf-")
    d2 = mkdtemp("mxgate-conf2-")
    try:
        sample = os.path.join(REPO, "etc", "mxgate.conf")
        out = t.case("sample etc/mxgate.conf passes -n",
                     normalise_ok, sample, "sample")
        if out:
            t.case("sample: printed form parses to the same text",
                   roundtrip, out, d2)

        for name in ("relay_recipients", "virtual", "transport"):
            write_file(os.path.join(d, name), "# empty\n")
        write_file(os.path.join(d, "tables.conf"), TABLES)
        main_conf = os.path.join(d, "mxgate.conf")
        write_file(main_conf, MAIN % {"dir": d})
        full = t.case("full config passes -n", normalise_ok, main_conf,
                      "full")
        if full:
            def content():
                true("include" not in full, "include left in: %r" % full)
                true("$" not in full, "macro left in: %r" % full)
                true(re.search(r"^listen on 127\.0\.0\.1 port 2525$", full,
                               re.M), "macro not expanded in listen")
                true(os.path.join(d, "relay_recipients") in full,
                     "file table path not made absolute")
                for word in ("example2.com", "172.16.42.0/24",
                             "smtp:[127.0.0.1]:2527", "group mail",
                             "show-table-name yes", "_mxgateq"):
                    true(word in full, "%r missing from -n output" % word)
            t.case("full: includes and macros expanded, paths absolute",
                   content)
            t.case("full: printed form parses to the same text",
                   roundtrip, full, d2)

        def minimal():
            p = os.path.join(d, "minimal.conf")
            write_file(p, "listen on 127.0.0.1 port 2525\n")
            out = normalise_ok(p, "minimal")
            for word in ("spool", "max-message-size", "hostname", "origin",
                         "queue-user"):
                true(word in out, "default %r not written out" % word)
            roundtrip(out, d2)
        t.case("minimal config: defaults written out, round trip", minimal)

        for name, text, where, line in BROKEN:
            def broken(text=text, where=where, line=line, name=name):
                sub = mkdtemp("mxgate-bad-")
                try:
                    p = os.path.join(sub, "bad.conf")
                    inc = os.path.join(sub, "inc.conf")
                    write_file(p, text)
                    write_file(inc, "hostname mx.test.example\n"
                               "bogus statement\n")
                    r = run_n(p)
                    true(r.returncode != 0, "exit status 0 for a broken "
                         "config; stdout %r" % r.stdout[:200])
                    want = (p if where == "main" else inc) + ":%d: " % line
                    true(re.search(r"^" + re.escape(want) + r"\S",
                                   r.stderr, re.M),
                         "stderr lacks %r: %r" % (want, r.stderr[:300]))
                finally:
                    shutil.rmtree(sub, ignore_errors=True)
            t.case("broken config (%s): file:line on stderr, exit != 0"
                   % name, broken)

        def missing_file():
            r = run_n(os.path.join(d, "no-such.conf"))
            true(r.returncode != 0, "exit 0 for a missing file")
            true("no-such.conf" in r.stderr, "stderr: %r" % r.stderr)
        t.case("missing config file: error naming it, exit != 0",
               missing_file)
    finally:
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(d2, ignore_errors=True)
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
