"""Memory per active session (issue 3, "Scale"): N sessions each in the
middle of DATA (EHLO, MAIL, RCPT, DATA and 4 KiB of the message sent, the
end not yet), then the PSS of mxgate's whole process tree, after minus
before, divided by N.  Also the same for N idle sessions (banner read).

    python3 bench/active.py [N]      (default 1000; as root, after make)

Loopback only; the gateway (regress/lib/gateway.py, the classic config)
and its sink are stopped by PID at the end."""

import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "regress", "lib"))
from gateway import Gateway, classic_config, classic_tables  # noqa: E402
from gateway import mkdtemp  # noqa: E402
from sink import Sink  # noqa: E402
sys.path.insert(0, HERE)
from bench import tree_pss_kib  # noqa: E402


def reply(f):
    while True:
        line = f.readline()
        if not line or line[3:4] != b"-":
            return line


def open_sessions(gw, n, active):
    socks = []
    body = (b"Subject: active session\r\n\r\n" + b"x" * 76 + b"\r\n") * 52
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", gw.port))
        f = s.makefile("rb")
        reply(f)
        if active:
            for cmd in (b"EHLO bench\r\n", b"MAIL FROM:<a@outside.example>\r\n",
                        b"RCPT TO:<user1@example1.com>\r\n", b"DATA\r\n"):
                s.sendall(cmd)
                r = reply(f)
                if not r[:1] in (b"2", b"3"):
                    raise RuntimeError("%r: %r" % (cmd, r))
            s.sendall(body)
        socks.append((s, f))
    time.sleep(2)
    return socks


def measure(n, active):
    sink = Sink(mkdtemp("bench-sink-"))
    conf = classic_config() + ("smtp max-sessions %d\nsmtp "
                               "max-sessions-per-client %d\n" % (2 * n, 2 * n))
    gw = Gateway(None, conf, classic_tables(sink.relay))
    try:
        sink.start()
        gw.start()
        time.sleep(1)
        before = tree_pss_kib(gw.proc.pid)
        socks = open_sessions(gw, n, active)
        after = tree_pss_kib(gw.proc.pid)
        for s, f in socks:
            s.close()
        return (after - before) / n
    finally:
        gw.stop(check=False)
        gw.cleanup()
        sink.cleanup()


def main():
    import resource
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * n + 1024),
                                                hard))
    idle = measure(n, False)
    active = measure(n, True)
    print("%d sessions: %.1f KiB PSS per idle session, %.1f KiB per "
          "session in DATA (4 KiB sent, message file open)"
          % (n, idle, active))


if __name__ == "__main__":
    main()
