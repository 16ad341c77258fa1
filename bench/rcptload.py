#!/usr/bin/python3
"""RCPT decision load: CONC sessions at a time, each EHLO, MAIL FROM, then
RCPTs in pipelined batches of BATCH (half existing users of the 1,000,000
recipient table of bench/lookups.py, half unknown), RSET + MAIL every
PER_MAIL RCPTs, until TOTAL RCPTs were answered by all sessions.  No DATA.
Prints one line "accepted=N rejected=N other=N errors=N seconds=S".

    rcptload.py HOST PORT TOTAL CONC NENTRIES SEED [sweep:I:N]

With sweep:I:N (bench/ldap.py's cold pass) the RCPTs are, in a shuffled
order, each address user<k> and nouser<k> with k % N == I exactly once,
shared out to the sessions as they go; TOTAL is then ignored.
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


def random_keys(nent, rng):
    """Endless: (k, unknown?) half existing users, half unknown."""
    i = 0
    while True:
        yield rng.randrange(nent), bool(i & 1)
        i += 1


def sweep_keys(nent, rng, part, parts):
    """Every (k, unknown?) of this part once, shuffled."""
    keys = [(k, u) for k in range(part, nent, parts) for u in (False, True)]
    rng.shuffle(keys)
    return keys


async def session(host, port, quota, keys, stats):
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
            cmds = []
            for k, unknown in keys:
                cmds.append(b"RCPT TO:<%suser%d@example%d.com>\r\n"
                            % (b"no" if unknown else b"", k, 1 + k % 3))
                if len(cmds) == min(BATCH, quota - done):
                    break
            n = len(cmds)
            if n == 0:
                break
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
    if len(sys.argv) > 7:
        _, part, parts = sys.argv[7].split(":")
        keys = iter(sweep_keys(nent, rng, int(part), int(parts)))
        total = 2 * len(range(int(part), nent, int(parts)))
        total += conc   # each session stops when the keys run out
    else:
        keys = random_keys(nent, rng)

    async def one(quota):
        try:
            await session(host, port, quota, keys, stats)
        except Exception as e:  # counted, and said once
            stats["errors"] += 1
            print("# session: %s" % e, file=sys.stderr)

    t0 = time.monotonic()
    await asyncio.gather(*(one(total // conc) for _ in range(conc)))
    print("accepted=%d rejected=%d other=%d errors=%d seconds=%.3f"
          % (stats["accepted"], stats["rejected"], stats["other"],
             stats["errors"], time.monotonic() - t0))


asyncio.run(main())
