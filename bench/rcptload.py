#!/usr/bin/python3
"""RCPT decision load: CONC sessions at a time, each EHLO, MAIL FROM, then
RCPTs in pipelined batches of BATCH (half existing users of the 1,000,000
recipient table of bench/lookups.py, half unknown), RSET + MAIL every
PER_MAIL RCPTs, until TOTAL RCPTs were answered by all sessions.  No DATA.
Prints one line "accepted=N rejected=N other=N errors=N seconds=S".

    rcptload.py HOST PORT TOTAL CONC NENTRIES SEED
"""

import asyncio
import random
import sys
import time

BATCH = 50
PER_MAIL = 500


async def reply(r):
    while True:
        line = await asyncio.wait_for(r.readline(), 60)
        if not line:
            raise EOFError("connection closed")
        if line[3:4] != b"-":
            return int(line[:3])


async def session(host, port, quota, nent, rng, stats):
    r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
    try:
        if await reply(r) != 220:
            raise ValueError("banner")
        w.write(b"EHLO load.bench.example\r\nMAIL FROM:<load@bench.example>"
                b"\r\n")
        await w.drain()
        if await reply(r) != 250 or await reply(r) != 250:
            raise ValueError("EHLO/MAIL")
        done = since_mail = 0
        while done < quota:
            n = min(BATCH, quota - done)
            cmds = []
            for i in range(n):
                k = rng.randrange(nent)
                cmds.append(b"RCPT TO:<%suser%d@example%d.com>\r\n"
                            % (b"no" if i & 1 else b"", k, 1 + k % 3))
            w.write(b"".join(cmds))
            await w.drain()
            for i in range(n):
                code = await reply(r)
                key = ("accepted" if code == 250 else
                       "rejected" if code == 550 else "other")
                stats[key] += 1
            done += n
            since_mail += n
            if since_mail >= PER_MAIL and done < quota:
                w.write(b"RSET\r\nMAIL FROM:<load@bench.example>\r\n")
                await w.drain()
                if await reply(r) != 250 or await reply(r) != 250:
                    raise ValueError("RSET/MAIL")
                since_mail = 0
        w.write(b"QUIT\r\n")
        await w.drain()
        await reply(r)
    finally:
        w.close()


async def main():
    host, port = sys.argv[1], int(sys.argv[2])
    total, conc = int(sys.argv[3]), int(sys.argv[4])
    nent, seed = int(sys.argv[5]), int(sys.argv[6])
    stats = {"accepted": 0, "rejected": 0, "other": 0, "errors": 0}
    rng = random.Random(seed)

    async def one(quota):
        try:
            await session(host, port, quota, nent, rng, stats)
        except Exception as e:  # counted, and said once
            stats["errors"] += 1
            print("# session: %s" % e, file=sys.stderr)

    t0 = time.monotonic()
    await asyncio.gather(*(one(total // conc) for _ in range(conc)))
    print("accepted=%d rejected=%d other=%d errors=%d seconds=%.3f"
          % (stats["accepted"], stats["rejected"], stats["other"],
             stats["errors"], time.monotonic() - t0))


asyncio.run(main())
