"""Postfix's smtp-sink(1) as a next hop for the tests.

    s = SmtpSink(mkdtemp("mxgate-ss-"), "-r", "RCPT").start()
    s.relay            # "smtp:[127.0.0.1]:PORT"
    s.stop(); s.sessions(); s.dumps()

It listens on a free loopback port, dumps each message to DIR/<n>.<hex>
(-d) and prints its counters (-c), read back by sessions() and messages()
once it has stopped.  Extra arguments are smtp-sink options (-r CMD: 4xx,
-f CMD: 5xx, -Q CMD: 421 and close, -W CMD:SECONDS: slow reply, -p: no
PIPELINING).  Started and stopped by PID; as root it runs as nobody.
"""

import glob
import os
import re
import signal
import socket
import subprocess
import time

from sink import free_port

SMTP_SINK = "/usr/sbin/smtp-sink"


class SmtpSink:
    def __init__(self, dir, *options, addr="127.0.0.1"):
        self.dir = dir
        self.addr = addr
        self.port = free_port(addr)
        self.options = list(options)
        self.proc = None
        self.out = os.path.join(dir, "smtp-sink.out")
        self.dumpdir = os.path.join(dir, "dump")
        os.makedirs(self.dumpdir, exist_ok=True)
        os.chmod(dir, 0o755)
        os.chmod(self.dumpdir, 0o777)

    @property
    def relay(self):
        return "smtp:[%s]:%d" % (self.addr, self.port)

    def start(self, timeout=10.0):
        cmd = [SMTP_SINK, "-c", "-d", os.path.join(self.dumpdir, "%H%M%S.")]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]
        cmd += self.options + ["%s:%d" % (self.addr, self.port), "64"]
        with open(self.out, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=out,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.addr, self.port), 1).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise AssertionError("smtp-sink did not start: %s" % self.output())

    def stop(self, timeout=10.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.proc = None

    def output(self):
        try:
            with open(self.out, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def sessions(self):
        """Sessions smtp-sink counted (its last "sess=N") less the one
        start() opened to see it listen; after stop()."""
        counts = re.findall(r"sess=(\d+)", self.output())
        return int(counts[-1]) - 1 if counts else 0

    def dumps(self):
        """The dumped messages' texts."""
        out = []
        for p in sorted(glob.glob(os.path.join(self.dumpdir, "*"))):
            with open(p, errors="replace") as f:
                out.append(f.read())
        return out

    def wait_dumps(self, n, timeout=20.0):
        deadline = time.monotonic() + timeout
        while len(self.dumps()) < n:
            if time.monotonic() >= deadline:
                raise AssertionError("smtp-sink: expected %d message(s), "
                                     "got %d" % (n, len(self.dumps())))
            time.sleep(0.1)
        return self.dumps()

    def cleanup(self):
        self.stop()
        if not os.environ.get("MXGATE_KEEP"):
            import shutil
            shutil.rmtree(self.dir, ignore_errors=True)
