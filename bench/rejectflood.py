#!/usr/bin/python3
"""Reject flood load: SESSIONS SMTP sessions, CONC at a time, each sending
EHLO, MAIL FROM and 5 RCPTs (pipelined if the server offers PIPELINING) for unknown users in a relay
domain, then QUIT.  Prints one line "rejected=N accepted=N errors=N".

    rejectflood.py HOST PORT SESSIONS CONC [TAG]
"""

import asyncio
import sys

NRCPT = 5


async def session(host, port, tag, n, stats):
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
    except Exception:
        stats["errors"] += 1
        return

    lines = []

    async def reply():
        while True:
            line = await asyncio.wait_for(r.readline(), 30)
            if not line:
                raise EOFError("connection closed")
            lines.append(line)
            if line[3:4] != b"-":
                return int(line[:3])

    try:
        if await reply() != 220:
            raise ValueError("banner")
        w.write(b"EHLO flood.bench.example\r\n")
        await w.drain()
        if await reply() != 250:
            raise ValueError("EHLO")
        w.write(b"MAIL FROM:<spammer@flood.example>\r\n")
        await w.drain()
        if await reply() != 250:
            raise ValueError("MAIL")
        pipelining = any(x[4:].strip().upper() == b"PIPELINING"
                         for x in lines)
        rcpts = [b"RCPT TO:<nosuch-%s-%d-%d@example%d.com>\r\n"
                 % (tag.encode(), n, i, 1 + (i & 1)) for i in range(NRCPT)]
        if pipelining:
            w.write(b"".join(rcpts))
            await w.drain()
        for i in range(NRCPT):
            if not pipelining:
                w.write(rcpts[i])
                await w.drain()
            code = await reply()
            if 500 <= code < 600:
                stats["rejected"] += 1
            elif code == 250:
                stats["accepted"] += 1
            else:
                stats["errors"] += 1
        w.write(b"QUIT\r\n")
        await w.drain()
        await reply()
    except Exception:
        stats["errors"] += 1
    finally:
        w.close()
        try:
            await w.wait_closed()
        except Exception:
            pass


async def main():
    host, port = sys.argv[1], int(sys.argv[2])
    sessions, conc = int(sys.argv[3]), int(sys.argv[4])
    tag = sys.argv[5] if len(sys.argv) > 5 else "x"
    stats = {"rejected": 0, "accepted": 0, "errors": 0}
    todo = iter(range(sessions))

    async def worker():
        for n in todo:
            await session(host, port, tag, n, stats)

    await asyncio.gather(*(worker() for _ in range(conc)))
    print("rejected=%d accepted=%d errors=%d"
          % (stats["rejected"], stats["accepted"], stats["errors"]))


asyncio.run(main())
