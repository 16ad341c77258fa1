"""Virtual aliases (Postfix virtual_alias_maps format): a list arrives as
its three recipients (and never as the list address), bare `postmaster`
is qualified with the origin, forwarding to an outside address, self plus
a copy, and a recursive expansion."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from gateway import Gateway, classic_config, classic_tables, mkdtemp  # noqa
from sink import Sink  # noqa: E402
from tap import Tap, eq  # noqa: E402

SENDER = "sender@outside.example.org"


def tables(relay):
    tb = classic_tables(relay)
    tb["relay_recipients"] += (
        "postmaster@example1.com OK\n"
        "fwd@example1.com        OK\n"
        "keep@example1.com       OK\n"
        "nested@example1.com     OK\n")
    tb["virtual"] += (
        "fwd@example1.com        someone@outside.example.net\n"
        "keep@example1.com       keep@example1.com, copy@example2.com\n"
        "nested@example1.com     staff@example1.com, dave@example2.com\n")
    # every destination goes to the one sink
    tb["transport"] += ("example.com            %s\n"
                        "outside.example.net    %s\n" % (relay, relay))
    return tb


def delivered(sink, before, n):
    """The recipients of the messages that arrived after the first
    ``before`` recipients, once there are n of them, sorted."""
    return sorted(sink.wait_rcpts(before + n, 20)[before:])


def main():
    t = Tap()
    sink = Sink(mkdtemp("mxgate-sink-")).start()
    gw = Gateway(None, classic_config(), tables(sink.relay))
    try:
        if not t.case("start gateway", gw.start):
            return t.exit()
        seen = 0

        def case(name, rcpt, want):
            nonlocal seen

            def run():
                gw.send(SENDER, [rcpt])
                got = delivered(sink, seen, len(want))
                eq(got, sorted(want), "recipients at the sink")
                return got
            r = t.case(name, run)
            seen = len(sink.recipients())
            return r

        case("list staff@ arrives as its three recipients",
             "staff@example1.com",
             ["alice@example1.com", "bob@example1.com", "carol@example2.com"])
        case("bare postmaster is qualified with the origin",
             "postmaster@example1.com", ["postmaster@example.com"])
        case("forward to an outside address", "fwd@example1.com",
             ["someone@outside.example.net"])
        case("self plus a copy keeps itself", "keep@example1.com",
             ["copy@example2.com", "keep@example1.com"])
        case("recursive expansion", "nested@example1.com",
             ["alice@example1.com", "bob@example1.com", "carol@example2.com",
              "dave@example2.com"])
        # Postfix (smtpd check_rcpt_maps) treats an address listed in
        # virtual_alias_maps as a known recipient even when it is not in
        # relay_recipient_maps: team@ is only in the virtual table.
        case("an alias not in the recipients table is a valid recipient",
             "team@example1.com", ["alice@example1.com", "bob@example1.com"])

        t.case("nothing more arrived (no duplicates, no list address)",
               lambda: eq(len(sink.recipients()), seen,
                          "recipients in all"))
        t.case("queue empty", lambda: gw.wait_queue(lambda q: q == [], 10,
                                                    "empty queue"))
        t.case("stop gateway cleanly", gw.stop)
    finally:
        gw.cleanup()
        sink.cleanup()
    return t.exit()


if __name__ == "__main__":
    sys.exit(main())
