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
  hostile.py real PORT PORT9 EXPORTERS SEED
      EXPORTERS real exporters on 127.2.x.y, all at once, half IPFIX (to
      PORT), half NetFlow v9 (to PORT9), six messages each: a template and
      data, data, then the template replaced by another layout (IPFIX:
      withdrawn and its id reused; v9: its id reused with other lengths)
      with data, and data in that layout.  The same SEED sends the same
      records, whatever else reaches the collector.  Prints the records
      sent.
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


def allow_files(n):
    """Enough descriptors for n sockets, as far as the hard limit allows."""
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < n + 256:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 256), hard))
    except (ImportError, ValueError, OSError):
        pass


def flood(port, sources, seconds, seed):
    rng = random.Random(seed)
    allow_files(sources)
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


# The layouts of hostile.py real: (ie, length) and how a record fills them.
IPFIX_A = [(152, 8), (2, 8), (8, 4), (12, 4), (7, 2), (11, 2), (4, 1)]
IPFIX_B = [(4, 1), (11, 2), (12, 4), (2, 4), (8, 4), (7, 2), (152, 8)]
V9_A = [(2, 4), (8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (22, 4), (21, 4)]
V9_B = [(22, 4), (21, 4), (4, 1), (11, 2), (12, 4), (8, 4), (7, 2), (2, 8)]
V9_UNIX = EXPORT_TIME + 3600    # the v9 header's clock
V9_UPTIME = 4000000             # ms since the router booted, at V9_UNIX


def pack_record(layout, rec):
    """rec: start_ms, packets, src, dst, sport, dport, proto"""
    start_ms, packets, src, dst, sport, dport, proto = rec
    up = start_ms - (V9_UNIX * 1000 - V9_UPTIME)
    vals = {152: start_ms, 2: packets, 8: src, 12: dst, 7: sport, 11: dport, 4: proto,
            22: up, 21: up + 1000}
    fmt = {1: "B", 2: "H", 4: "I", 8: "Q"}
    return b"".join(struct.pack("!" + fmt[ln], vals[ie]) for ie, ln in layout)


def v9_message(flowsets, count, seq, source_id):
    body = b"".join(flowsets)
    return struct.pack("!HHIIII", 9, count, V9_UPTIME, V9_UNIX, seq, source_id) + body


def v9_template(tid, fields):
    body = struct.pack("!HH", tid, len(fields)) + b"".join(struct.pack("!HH", ie, ln)
                                                           for ie, ln in fields)
    return struct.pack("!HH", 0, 4 + len(body)) + body


def data_set(tid, layout, recs):
    body = b"".join(pack_record(layout, r) for r in recs)
    pad = (-len(body)) % 4
    return struct.pack("!HH", tid, 4 + len(body) + pad) + body + b"\0" * pad


def real_records(rng, n):
    """Darknet traffic: a few busy ports, many quiet ones, times over 20 minutes."""
    out = []
    for _ in range(n):
        dport = rng.choice([23, 445, 22, 3389, 80, 8080, 5060, 2849]) \
            if rng.random() < 0.7 else rng.randrange(1, 65536)
        out.append((EXPORT_TIME * 1000 + rng.randrange(0, 20 * 60 * 1000),
                    rng.randrange(1, 6), 0xcb007100 + rng.randrange(0, 256),
                    0xc6120000 + rng.randrange(256, 65536), rng.randrange(1024, 65536),
                    dport, rng.choice([6, 6, 6, 17])))
    return out


def real_messages(i, seed):
    """The six datagrams of exporter i."""
    rng = random.Random(seed * 100003 + i)
    batches = [real_records(rng, 10) for _ in range(6)]
    msgs, seq = [], 0
    if i % 2 == 0:
        for k, recs in enumerate(batches):
            sets = []
            if k == 0:
                sets.append(template_set([(256, IPFIX_A)]))
            if k == 2:
                sets.append(template_set([(256, [])]))      # withdrawn ...
                sets.append(template_set([(256, IPFIX_B)]))  # ... and reused
            sets.append(data_set(256, IPFIX_A if k < 2 else IPFIX_B, recs))
            msgs.append(message(sets, seq, 7))
            seq += len(recs)
    else:
        for k, recs in enumerate(batches):
            sets, count = [], len(recs)
            if k == 0:
                sets.append(v9_template(256, V9_A))
                count += 1
            if k == 2:
                sets.append(v9_template(256, V9_B))          # same id, other lengths
                count += 1
            sets.append(data_set(256, V9_A if k < 2 else V9_B, recs))
            msgs.append(v9_message(sets, count, k, 7))
    return msgs, sum(len(b) for b in batches)


def real(port, port9, exporters, seed):
    allow_files(exporters)
    socks, plans, total = [], [], 0
    for i in range(exporters):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.2.%d.%d" % (i // 250, i % 250 + 1), 0))
        socks.append(s)
        msgs, n = real_messages(i, seed)
        plans.append(msgs)
        total += n
    # all at once: round k sends every exporter's k-th message
    for k in range(6):
        for i, s in enumerate(socks):
            s.sendto(plans[i][k], ("127.0.0.1", port if i % 2 == 0 else port9))
            if i % 100 == 99:
                time.sleep(0.005)
        time.sleep(0.05)
    print(total)


def main():
    cmd = sys.argv[1]
    if cmd == "flood":
        flood(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "hold":
        hold(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "good":
        good(int(sys.argv[2]), int(sys.argv[3]))
    elif cmd == "real":
        real(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit("usage: see the top of this file")


if __name__ == "__main__":
    main()
