#!/usr/bin/python3
"""A small authoritative DNS server on loopback for the tests (UDP and
TCP on the same port).

    dns = DNSServer({
        "example.test": {"MX": [(10, "mx1.example.test")]},
        "mx1.example.test": {"A": ["127.0.0.1"], "AAAA": ["::1"]},
        "nullmx.test": {"MX": [(0, ".")]},
        "broken.test": "SERVFAIL",
    }).start()
    open(resolv, "w").write(dns.resolv_conf())   # nameserver 127.0.0.1:PORT
    ...
    dns.stop()

Names are matched without regard to case; a name not in the zone gets
NXDOMAIN, a name without the asked type an empty NOERROR answer (no
data), a name whose value is "SERVFAIL" a server failure; a name with
"TC": True gets over UDP an empty answer with the TC bit (the answer does
not fit, ask over TCP) and its records over TCP only.  The question
is echoed byte for byte (resolvers randomise its case).  Every query is
recorded in .queries as (name, type) with name in lower case, TCP ones
also in .tcp_queries.  It runs in
a thread of the test and stops with stop().
"""

import ipaddress
import socket
import struct
import threading

TYPES = {1: "A", 28: "AAAA", 15: "MX", 5: "CNAME", 2: "NS", 6: "SOA"}


def _name(name):
    """Wire form of a dotted name ("." is the root)."""
    out = b""
    for label in name.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def _question(pkt):
    """(name, qtype, end offset) of the only question."""
    off, labels = 12, []
    while True:
        n = pkt[off]
        if n == 0 or n & 0xc0:
            break
        labels.append(pkt[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += n + 1
    if pkt[off] != 0:
        raise ValueError("compressed question")
    off += 1
    qtype, = struct.unpack("!H", pkt[off:off + 2])
    return ".".join(labels).lower(), qtype, off + 4


class DNSServer:
    def __init__(self, zone, addr="127.0.0.1", ttl=60):
        self.zone = {k.lower().strip("."): v for k, v in zone.items()}
        self.addr = addr
        self.ttl = ttl
        self.queries = []
        self.tcp_queries = []
        for _ in range(50):     # a port free for both UDP and TCP
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind((addr, 0))
            self.port = self.sock.getsockname()[1]
            self.tsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tsock.bind((addr, self.port))
                break
            except OSError:
                self.sock.close()
                self.tsock.close()
        else:
            raise OSError("no port free for UDP and TCP")
        self.tsock.listen(16)
        self.threads = []
        self.running = False

    def resolv_conf(self):
        return "nameserver %s:%d\noptions timeout:2 attempts:2\n" % (
            self.addr, self.port)

    def start(self):
        self.running = True
        self.sock.settimeout(0.2)
        self.tsock.settimeout(0.2)
        for target in (self._serve, self._serve_tcp):
            th = threading.Thread(target=target, daemon=True)
            th.start()
            self.threads.append(th)
        return self

    def stop(self):
        self.running = False
        for th in self.threads:
            th.join(5)
        self.sock.close()
        self.tsock.close()

    def asked(self, name, qtype):
        return (name.lower(), qtype) in self.queries

    def _serve(self):
        while self.running:
            try:
                pkt, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                reply = self.answer(pkt)
            except (ValueError, IndexError, struct.error):
                continue
            self.sock.sendto(reply, peer)

    def _serve_tcp(self):
        while self.running:
            try:
                conn, _ = self.tsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    self._tcp_conn(conn)
                except (OSError, ValueError, IndexError, struct.error):
                    pass

    def _tcp_conn(self, conn):
        buf = b""
        while True:
            while len(buf) < 2 or len(buf) < 2 + struct.unpack(
                    "!H", buf[:2])[0]:
                data = conn.recv(4096)
                if not data:
                    return
                buf += data
            n = struct.unpack("!H", buf[:2])[0]
            pkt, buf = buf[2:2 + n], buf[2 + n:]
            reply = self.answer(pkt, tcp=True)
            conn.sendall(struct.pack("!H", len(reply)) + reply)

    def _rr(self, qtype, value):
        """One answer record, owner = the question name (pointer 0x0c)."""
        if qtype == 1:
            rdata = ipaddress.IPv4Address(value).packed
        elif qtype == 28:
            rdata = ipaddress.IPv6Address(value).packed
        else:
            pref, host = value
            rdata = struct.pack("!H", pref) + _name(host)
        return (struct.pack("!HHHIH", 0xc00c, qtype, 1, self.ttl,
                            len(rdata)) + rdata)

    def answer(self, pkt, tcp=False):
        qid, flags, qd = struct.unpack("!HHH", pkt[:6])
        name, qtype, end = _question(pkt)
        q = (name, TYPES.get(qtype, str(qtype)))
        self.queries.append(q)
        if tcp:
            self.tcp_queries.append(q)
        rd = flags & 0x0100
        entry = self.zone.get(name)
        answers = []
        tc = 0
        if entry is None:
            rcode = 3
        elif entry == "SERVFAIL":
            rcode = 2
        elif entry.get("TC") and not tcp:
            rcode, tc = 0, 0x0200
        else:
            rcode = 0
            for value in entry.get(TYPES.get(qtype, ""), []):
                answers.append(self._rr(qtype, value))
        hdr = struct.pack("!HHHHHH", qid, 0x8400 | tc | rd | rcode, 1,
                          len(answers), 0, 0)
        return hdr + pkt[12:end] + b"".join(answers)
