"""Probing a running gateway's recipient decisions from a fresh session."""

import time

from smtp import expect
from tap import Failure

SENDER = "sender@outside.example.org"


def rcpt_code(gw, rcpt, sender=SENDER):
    """A fresh session's reply code to RCPT TO:<rcpt>."""
    with gw.client() as c:
        expect(c.banner(), 220)
        expect(c.cmd("EHLO client.test"), 250)
        expect(c.cmd("MAIL FROM:<%s>" % sender), 250)
        code = c.cmd("RCPT TO:<%s>" % rcpt).code
        c.cmd("QUIT")
        return code


def wait_rcpt_code(gw, rcpt, want, timeout=10.0, sender=SENDER):
    """Polls until RCPT TO:<rcpt> gets `want` (tables reload behind it)."""
    deadline = time.monotonic() + timeout
    while True:
        got = rcpt_code(gw, rcpt, sender)
        if got == want:
            return
        if time.monotonic() >= deadline:
            raise Failure("RCPT %s: expected %d within %gs, got %d"
                          % (rcpt, want, timeout, got), gw.log_tail(20))
        time.sleep(0.3)
