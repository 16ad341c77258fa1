#!/usr/bin/python3
"""A small authoritative DNS server on loopback for the tests (UDP).

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
data), a name whose value is "SERVFAIL" a server failure.  The question
is echoed byte for byte (resolvers randomise its case).  Every query is
recorded in .queries as (name, type) with name in lower case.  It runs in
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
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, 0))
        self.port = self.sock.getsockname()[1]
        self.thread = None
        self.running = False

    def resolv_conf(self):
        return "nameserver %s:%d\noptions timeout:2 attempts:2\n" % (
            self.addr, self.port)

    def start(self):
        self.running = True
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.running = False
        if self.thread:
            self.thread.join(5)
        self.sock.close()

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

    def answer(self, pkt):
        qid, flags, qd = struct.unpack("!HHH", pkt[:6])
        name, qtype, end = _question(pkt)
        self.queries.append((name, TYPES.get(qtype, str(qtype))))
        rd = flags & 0x0100
        entry = self.zone.get(name)
        answers = []
        if entry is None:
            rcode = 3
        elif entry == "SERVFAIL":
            rcode = 2
        else:
            rcode = 0
            for value in entry.get(TYPES.get(qtype, ""), []):
                answers.append(self._rr(qtype, value))
        hdr = struct.pack("!HHHHHH", qid, 0x8400 | rd | rcode, 1,
                          len(answers), 0, 0)
        return hdr + pkt[12:end] + b"".join(answers)
