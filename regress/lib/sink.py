#!/usr/bin/python3
"""A small SMTP receiving server that records what it gets.

Run as its own process:

    python3 sink.py --addr 127.0.0.1 --port N --dir D \
        [--tempfail-rcpt ADDR]... [--permfail-rcpt ADDR]... \
        [--size BYTES] [--delay SECONDS] [--smtputf8]

After each message's final dot it writes D/<n>.json
    {"n": n, "mail_from": "...", "rcpt_to": [...], "data": "...",
     "peer": "ip:port", "helo": "..."}
(data as received after dot-unstuffing, CRLF line ends kept, bytes mapped
1:1 to characters, i.e. latin-1) and answers "250 2.0.0 Ok: queued as <n>".
D/ready appears once it listens.  SIGTERM stops it.
--size is the SIZE it announces (default 100 MiB, larger MAIL SIZE= gets
552); --delay waits before answering the final dot (a slow server);
--smtputf8 announces SMTPUTF8.
Each session appends "open PEER TIME" and "quit PEER TIME" (ended by
QUIT) or "close PEER TIME" (any other end) to D/sessions.log; each message also records "mail_args" (what followed
MAIL FROM:<...>) and "pipelined" (RCPT was already sent with MAIL).

From a test, use the Sink class: Sink(dir).start(); .messages();
.wait_count(n, timeout); .stop().
"""

import argparse
import glob
import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


# --------------------------------------------------------------- server side

class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    # listen(2) backlog.  socketserver's default of 5 is too small: mtad
    # opens a dozen connections at once, the accept queue overflows and,
    # with SYN cookies, the client holds an ESTABLISHED connection the
    # sink never sees -- waiting for a greeting that never comes.
    request_queue_size = 256

    def __init__(self, addr, opts):
        self.opts = opts
        self.lock = threading.Lock()
        existing = [int(os.path.basename(p)[:-5])
                    for p in glob.glob(os.path.join(opts.dir, "*.json"))
                    if os.path.basename(p)[:-5].isdigit()]
        self.counter = max(existing, default=0)
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.address_family = family
        super().__init__(addr, _Handler)

    def store(self, rec):
        with self.lock:
            self.counter += 1
            n = self.counter
        rec["n"] = n
        tmp = os.path.join(self.opts.dir, ".%d.tmp" % n)
        with open(tmp, "w") as f:
            json.dump(rec, f)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(self.opts.dir, "%d.json" % n))
        return n


def _addr_of(arg):
    """'FROM:<a@b> SIZE=1' -> 'a@b' (lowercase compare is the caller's)."""
    arg = arg.strip()
    if arg.startswith("<"):
        end = arg.find(">")
        return arg[1:end] if end > 0 else None
    return arg.split()[0] if arg else None


class _Handler(socketserver.StreamRequestHandler):
    timeout = 120

    def reply(self, line):
        self.wfile.write(line.encode("latin-1") + b"\r\n")
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(65536)
        if not line:
            return None
        return line

    def _session_log(self, what, peer):
        with self.server.lock:
            with open(os.path.join(self.server.opts.dir, "sessions.log"),
                      "a") as f:
                f.write("%s %s %.6f\n" % (what, peer, time.time()))

    def _pipelined(self):
        """Whether more input is already waiting (never blocks)."""
        self.connection.settimeout(0)
        try:
            return bool(self.rfile.peek(1))
        except (BlockingIOError, socket.timeout, OSError):
            return False
        finally:
            self.connection.settimeout(self.timeout)

    def handle(self):
        peer = "%s:%d" % self.client_address[:2]
        self._session_log("open", peer)
        self.logged_close = False
        try:
            self._handle(peer)
        finally:
            if not self.logged_close:
                self._session_log("close", peer)

    def _handle(self, peer):
        srv = self.server
        opts = srv.opts
        mail_args, pipelined = "", False
        self.reply("220 sink.test ESMTP test sink")
        helo, mail_from, rcpts = None, None, []
        while True:
            raw = self.readline()
            if raw is None:
                return
            line = raw.decode("latin-1").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            arg = line[len(verb):].strip() if " " in line else ""
            if verb == "EHLO":
                helo = arg
                mail_from, rcpts = None, []
                self.reply("250-sink.test")
                self.reply("250-PIPELINING")
                self.reply("250-SIZE %d" % opts.size)
                self.reply("250-8BITMIME")
                if opts.smtputf8:
                    self.reply("250-SMTPUTF8")
                self.reply("250 ENHANCEDSTATUSCODES")
            elif verb == "HELO":
                helo = arg
                mail_from, rcpts = None, []
                self.reply("250 sink.test")
            elif verb == "MAIL":
                if not arg.upper().startswith("FROM:"):
                    self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
                    continue
                mail_from = _addr_of(arg[5:])
                rcpts = []
                mail_args = arg[5:].split(">", 1)[-1].strip()
                pipelined = self._pipelined()
                size = [int(p[5:]) for p in mail_args.upper().split()
                        if p.startswith("SIZE=") and p[5:].isdigit()]
                if size and size[0] > opts.size:
                    mail_from = None
                    self.reply("552 5.3.4 Message size exceeds fixed limit")
                    continue
                self.reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                if mail_from is None:
                    self.reply("503 5.5.1 Error: need MAIL command")
                    continue
                if not arg.upper().startswith("TO:"):
                    self.reply("501 5.5.4 Syntax: RCPT TO:<address>")
                    continue
                rcpt = _addr_of(arg[3:])
                low = (rcpt or "").lower()
                if low in opts.tempfail:
                    self.reply("451 4.2.0 <%s>: test sink tempfail" % rcpt)
                elif low in opts.permfail:
                    self.reply("550 5.1.1 <%s>: test sink permfail" % rcpt)
                else:
                    rcpts.append(rcpt)
                    self.reply("250 2.1.5 Ok")
            elif verb == "DATA":
                if not rcpts:
                    self.reply("554 5.5.1 Error: no valid recipients")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                chunks = []
                while True:
                    raw = self.readline()
                    if raw is None:
                        return          # lost: never stored
                    if raw in (b".\r\n", b".\n"):
                        break
                    if raw.startswith(b"."):
                        raw = raw[1:]
                    chunks.append(raw)
                data = b"".join(chunks).decode("latin-1")
                if opts.delay:
                    time.sleep(opts.delay)
                n = srv.store({"mail_from": mail_from, "rcpt_to": rcpts,
                               "data": data, "peer": peer, "helo": helo,
                               "time": time.time(), "mail_args": mail_args,
                               "pipelined": pipelined})
                self.reply("250 2.0.0 Ok: queued as %d" % n)
                mail_from, rcpts = None, []
            elif verb == "RSET":
                mail_from, rcpts = None, []
                self.reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                # logged before the reply: the client may connect again
                # as soon as it has it
                self._session_log("quit", peer)
                self.logged_close = True
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 Error: command not recognized")


def main():
    ap = argparse.ArgumentParser(description="test SMTP sink")
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--tempfail-rcpt", action="append", default=[])
    ap.add_argument("--permfail-rcpt", action="append", default=[])
    ap.add_argument("--size", type=int, default=104857600)
    ap.add_argument("--delay", type=float, default=0)
    ap.add_argument("--smtputf8", action="store_true")
    opts = ap.parse_args()
    opts.tempfail = {a.lower() for a in opts.tempfail_rcpt}
    opts.permfail = {a.lower() for a in opts.permfail_rcpt}
    os.makedirs(opts.dir, exist_ok=True)
    srv = _Server((opts.addr, opts.port), opts)

    def stop(signo, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with open(os.path.join(opts.dir, "ready"), "w") as f:
        f.write("%d\n" % os.getpid())
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
        try:
            os.unlink(os.path.join(opts.dir, "ready"))
        except OSError:
            pass


# --------------------------------------------------------------- test side

def free_port(addr="127.0.0.1"):
    """A loopback port that was free a moment ago."""
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    try:
        s.bind((addr, 0))
        return s.getsockname()[1]
    finally:
        s.close()


class Sink:
    """A sink process recording into ``dir``; port picked if not given.
    The port stays the same across stop()/start()."""

    def __init__(self, dir, port=None, addr="127.0.0.1", tempfail=(),
                 permfail=(), size=None, delay=None, smtputf8=False):
        self.dir = dir
        self.addr = addr
        self.port = port or free_port(addr)
        self.tempfail = list(tempfail)
        self.permfail = list(permfail)
        self.extra = []
        if size is not None:
            self.extra += ["--size", str(size)]
        if delay is not None:
            self.extra += ["--delay", str(delay)]
        if smtputf8:
            self.extra += ["--smtputf8"]
        self.proc = None
        os.makedirs(dir, exist_ok=True)
        self.logpath = os.path.join(dir, "sink.log")

    @property
    def relay(self):
        """The transport string for this sink."""
        return "smtp:[%s]:%d" % (self.addr, self.port)

    def start(self, timeout=10.0):
        if self.proc and self.proc.poll() is None:
            return self
        ready = os.path.join(self.dir, "ready")
        try:
            os.unlink(ready)
        except OSError:
            pass
        cmd = [sys.executable or "/usr/bin/python3",
               os.path.join(HERE, "sink.py"), "--addr", self.addr,
               "--port", str(self.port), "--dir", self.dir]
        for a in self.tempfail:
            cmd += ["--tempfail-rcpt", a]
        for a in self.permfail:
            cmd += ["--permfail-rcpt", a]
        cmd += self.extra
        log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(ready):
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        with open(self.logpath, errors="replace") as f:
            raise AssertionError("sink on port %d did not start: %s"
                                 % (self.port, f.read()[-2000:]))

    def stop(self, timeout=10.0):
        if not self.proc:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.proc = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def messages(self):
        out = []
        for p in glob.glob(os.path.join(self.dir, "*.json")):
            with open(p) as f:
                out.append(json.load(f))
        out.sort(key=lambda m: m["n"])
        return out

    def count(self):
        return len(glob.glob(os.path.join(self.dir, "*.json")))

    def wait_count(self, n, timeout=20.0):
        """Wait until at least n messages arrived; return all of them.
        Raises AssertionError with the count seen on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            c = self.count()
            if c >= n:
                return self.messages()
            if time.monotonic() >= deadline:
                raise AssertionError("sink %d: expected %d message(s) within "
                                     "%gs, got %d" % (self.port, n, timeout, c))
            time.sleep(0.1)

    def wait_rcpts(self, n, timeout=20.0):
        """Wait until the messages received name at least n recipients in
        all; return the recipients (lower case, arrival order)."""
        deadline = time.monotonic() + timeout
        while True:
            r = [a.lower() for a in self.recipients()]
            if len(r) >= n:
                return r
            if time.monotonic() >= deadline:
                raise AssertionError("sink %d: expected %d recipient(s) "
                                     "within %gs, got %r"
                                     % (self.port, n, timeout, r))
            time.sleep(0.1)

    def cleanup(self):
        """Stop and remove the directory (unless MXGATE_KEEP is set)."""
        self.stop()
        if not os.environ.get("MXGATE_KEEP"):
            import shutil
            shutil.rmtree(self.dir, ignore_errors=True)

    def recipients(self):
        """Every recipient of every message, in arrival order."""
        return [r for m in self.messages() for r in m["rcpt_to"]]

    def sessions(self):
        """[(what, peer, time)] from sessions.log, in order; what is
        open, quit or close."""
        try:
            with open(os.path.join(self.dir, "sessions.log")) as f:
                return [(w, p, float(t)) for w, p, t in
                        (line.split() for line in f)]
        except OSError:
            return []

    def max_concurrent(self):
        """The most sessions that were open at once."""
        n = top = 0
        for what, _, _ in self.sessions():
            n += 1 if what == "open" else -1
            top = max(top, n)
        return top


if __name__ == "__main__":
    main()
