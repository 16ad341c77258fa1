"""Test output in the project's convention: one line per case,
``ok - name`` or ``not ok - name: why``; regress/run counts them.

A test file creates one Tap, runs each case through ``t.case(name, fn)``
(an exception in one case is reported and the next case still runs), stops
what it started in a ``finally`` and ends with ``sys.exit(t.exit())``.

SIGTERM (regress/run's timeout) is turned into an exception so that the
``finally`` blocks still stop the gateway and the sinks.
"""

import signal
import sys
import traceback


class Terminated(BaseException):
    """Raised in the main thread when the test is told to stop."""


def _on_term(signo, frame):
    raise Terminated("killed by signal %d" % signo)


signal.signal(signal.SIGTERM, _on_term)
signal.signal(signal.SIGHUP, _on_term)


class Tap:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, name):
        print("ok - %s" % name, flush=True)
        self.passed += 1

    def not_ok(self, name, why):
        why = str(why).strip().replace("\n", " | ") if why else "failed"
        print("not ok - %s: %s" % (name, why), flush=True)
        self.failed += 1

    def check(self, cond, name, why=""):
        if cond:
            self.ok(name)
        else:
            self.not_ok(name, why or "condition false")
        return bool(cond)

    def case(self, name, fn, *args, **kwargs):
        """Run fn(*args, **kwargs); an AssertionError or any other
        exception makes the case fail with its message.  Returns fn's
        result, or None when it failed."""
        try:
            r = fn(*args, **kwargs)
        except AssertionError as e:
            self.not_ok(name, e)
            detail = getattr(e, "detail", None)
            if detail:
                print(_indent(detail), flush=True)
            return None
        except Exception as e:  # noqa: BLE001 - report and go on
            self.not_ok(name, "%s: %s" % (type(e).__name__, e))
            print(_indent(traceback.format_exc()), flush=True)
            return None
        self.ok(name)
        return r if r is not None else True

    def skip(self, name, why):
        # counted as passed: the convention has no skip line
        print("ok - %s # SKIP %s" % (name, why), flush=True)
        self.passed += 1

    def bail(self, why):
        """Something every later case depends on failed."""
        self.not_ok("setup", why)

    def exit(self):
        sys.stdout.flush()
        return 1 if self.failed else 0


def _indent(text):
    return "\n".join("    # " + l for l in str(text).rstrip().split("\n"))


class Failure(AssertionError):
    """An assertion with a one-line reason and an optional multi-line
    detail (e.g. a log tail) printed under the ``not ok`` line."""

    def __init__(self, why, detail=None):
        super().__init__(why)
        self.detail = detail


def eq(got, want, what="value", detail=None):
    if got != want:
        raise Failure("%s: expected %r, got %r" % (what, want, got), detail)


def match(regex, text, what="value", detail=None):
    import re
    m = re.search(regex, text, re.M)
    if not m:
        raise Failure("%s: %r does not match /%s/" % (what, text, regex),
                      detail)
    return m


def true(cond, why, detail=None):
    if not cond:
        raise Failure(why, detail)
