"""A raw, line-based SMTP client for exact-reply assertions.

    c = SMTPClient("127.0.0.1", port, source="127.0.0.2")
    r = c.banner()            # Reply
    r = c.cmd("EHLO client.example")
    r.code == 250; r.lines == ["250-mx.test", ..., "250 8BITMIME"]
    r.last == "250 8BITMIME"; r.keywords() == {"PIPELINING", "SIZE", ...}

Every read has a timeout; a closed connection or a malformed reply raises
SMTPError.
"""

import re
import socket
import time

_REPLY = re.compile(r"^([2-5][0-9][0-9])([ -])(.*)$")


class SMTPError(AssertionError):
    pass


class Reply:
    def __init__(self, lines):
        self.lines = lines              # full lines without CRLF
        self.code = int(lines[-1][:3])
        self.last = lines[-1]
        self.text = "\n".join(lines)

    def texts(self):
        """The text part of each line (after the code and separator)."""
        return [l[4:] for l in self.lines]

    def keywords(self):
        """EHLO keywords (first word of each line but the first), upper."""
        return {t.split()[0].upper() for t in self.texts()[1:] if t.split()}

    def keyword_args(self, kw):
        for t in self.texts()[1:]:
            w = t.split()
            if w and w[0].upper() == kw.upper():
                return w[1:]
        return None

    def __repr__(self):
        return "Reply(%r)" % self.text


class SMTPClient:
    def __init__(self, host, port, source=None, timeout=10.0):
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_INET6 if ":" in host
                                  else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.buf = b""
        self.transcript = []

    def local_addr(self):
        return self.sock.getsockname()

    def send(self, line):
        """Send one line (CRLF appended).  bytes are sent as they are."""
        data = line if isinstance(line, bytes) else line.encode("utf-8")
        self.transcript.append(">>> " + data.decode("utf-8", "replace"))
        self.sock.sendall(data + b"\r\n")

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _readline(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SMTPError("timeout waiting for a reply; got so far %r"
                                % self.buf)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                raise SMTPError("timeout waiting for a reply; got so far %r"
                                % self.buf) from None
            if not chunk:
                raise SMTPError("connection closed by server; partial %r"
                                % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        if not line.endswith(b"\r"):
            raise SMTPError("reply line without CRLF: %r" % line)
        return line[:-1].decode("utf-8", "replace")

    def reply(self, timeout=None):
        """Read one complete (possibly multi-line) reply."""
        deadline = time.monotonic() + (timeout or self.timeout)
        lines = []
        while True:
            line = self._readline(deadline)
            self.transcript.append("<<< " + line)
            m = _REPLY.match(line)
            if not m:
                raise SMTPError("malformed reply line %r" % line)
            if lines and m.group(1) != lines[0][:3]:
                raise SMTPError("reply code changed within a reply: %r"
                                % (lines + [line]))
            lines.append(line)
            if m.group(2) == " ":
                return Reply(lines)

    def banner(self):
        return self.reply()

    def cmd(self, line, timeout=None):
        self.send(line)
        return self.reply(timeout)

    def data(self, body, timeout=None):
        """Send a message body after a 354: dot-stuffing, CRLF line ends,
        the final dot; returns the reply to the final dot."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        lines = body.replace(b"\r\n", b"\n").split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        out = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                       for l in lines) + b".\r\n"
        self.transcript.append(">>> (%d bytes of data)" % len(out))
        self.sock.sendall(out)
        return self.reply(timeout)

    def closed_by_peer(self, timeout=2.0):
        """True if the server closed the connection (EOF) within timeout."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except socket.timeout:
            return False
        except OSError:
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def expect(reply, code, exact=None, what="reply"):
    """Assert a reply's code (and, if given, its exact last line)."""
    if reply.code != code:
        raise SMTPError("%s: expected %d, got %r" % (what, code, reply.text))
    if exact is not None and reply.last != exact:
        raise SMTPError("%s: expected %r, got %r" % (what, exact, reply.last))
    return reply
