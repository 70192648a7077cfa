#!/usr/bin/env python3
"""A broken or hostile exporter, on 127.0.0.0/8 only (tests/e2e/hostile.sh).

  hostile.py flood PORT SOURCES SECONDS SEED
      UDP datagrams to 127.0.0.1:PORT from SOURCES addresses 127.1.x.y, for
      SECONDS: IPFIX headers over random bytes, lying lengths, random
      templates (some with hundreds of fields), template ids reused and
      withdrawn, data sets for templates never sent.  None of them holds a
      record that decodes to a flow.  Prints the datagrams sent.
  hostile.py hold PORT CONNECTIONS SECONDS
      TCP connections to 127.0.0.1:PORT that each send a message header
      promising 65,535 bytes and 40 KB of it, then wait SECONDS.  Prints how
      many the collector closed while they waited.
  hostile.py good PORT RECORDS
      One TCP connection, a real exporter: a template, then RECORDS data
      records to 198.18.5.5 (in the tests' darknet) in whole messages.
"""
import random
import socket
import struct
import sys
import time

EXPORT_TIME = 1363000000   # 2013-03-11


def header(length, seq, domain):
    return struct.pack("!HHIII", 10, length, EXPORT_TIME, seq, domain)


def template_set(templates):
    """templates: [(tid, [(ie, len), ...])]"""
    body = b""
    for tid, fields in templates:
        body += struct.pack("!HH", tid, len(fields))
        for ie, ln in fields:
            body += struct.pack("!HH", ie, ln)
    return struct.pack("!HH", 2, 4 + len(body)) + body


def message(sets, seq=0, domain=1):
    body = b"".join(sets)
    return header(16 + len(body), seq, domain) + body


def broken(rng, seq):
    kind = rng.randrange(6)
    if kind == 0:       # random bytes behind an IPFIX version
        return struct.pack("!H", 10) + rng.randbytes(rng.randrange(2, 1400))
    if kind == 1:       # a length that lies
        body = rng.randbytes(rng.randrange(0, 200))
        return struct.pack("!HHIII", 10, rng.randrange(0, 65536), EXPORT_TIME, seq, 1) + body
    if kind == 2:       # random templates, some long
        n = rng.choice([1, 2, 3, 300, 700])
        fields = [(rng.randrange(1, 500), rng.choice([1, 2, 4, 8, 16, 65535])) for _ in range(n)]
        return message([template_set([(rng.randrange(256, 65536), fields)])], seq,
                       rng.randrange(0, 4))
    if kind == 3:       # a template withdrawn, then reused
        tid = rng.randrange(256, 300)
        return message([template_set([(tid, [])]),
                        template_set([(tid, [(8, 4), (12, 4), (2, 8)])])], seq)
    if kind == 4:       # data for a template never sent
        return message([struct.pack("!HH", rng.randrange(256, 65536), 24) + rng.randbytes(20)],
                       seq)
    # many templates at once, to fill a table
    return message([template_set([(256 + i, [(8, 4), (12, 4)]) for i in range(100)])], seq,
                   rng.randrange(0, 1000))


def flood(port, sources, seconds, seed):
    rng = random.Random(seed)
    socks = []
    for i in range(sources):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.1.%d.%d" % (i // 250, i % 250 + 1), 0))
        socks.append(s)
    sent, seq, end = 0, 0, time.time() + seconds
    while time.time() < end:
        for s in socks:
            seq += 1
            s.sendto(broken(rng, seq), ("127.0.0.1", port))
            sent += 1
        time.sleep(0.01)
    print(sent)


def hold(port, n, seconds):
    conns = []
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(header(65535, 0, 1) + b"\0" * 40000)
        conns.append(c)
    time.sleep(seconds)
    closed = 0
    for c in conns:
        c.setblocking(False)
        try:
            if c.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        c.close()
    print(closed)


def good(port, records):
    fields = [(152, 8), (2, 8), (8, 4), (12, 4), (7, 2), (11, 2), (4, 1)]
    c = socket.create_connection(("127.0.0.1", port))
    seq, left = 0, records
    msg = message([template_set([(256, fields)])], seq)
    while left > 0:
        n = min(left, 40)
        recs = b"".join(struct.pack("!QQIIHHB", EXPORT_TIME * 1000 + i, 1, 0xc6336407 + i,
                                    0xc6120505, 40000, 23, 6) for i in range(n))
        msg += message([struct.pack("!HH", 256, 4 + len(recs)) + recs], seq)
        seq += n
        left -= n
    c.sendall(msg)
    time.sleep(0.5)
    c.close()


def main():
    cmd = sys.argv[1]
    if cmd == "flood":
        flood(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "hold":
        hold(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "good":
        good(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit("usage: see the top of this file")


if __name__ == "__main__":
    main()
