#!/usr/bin/python3
"""Checks a report mail as a mail client would read it (python3's email package).

  mailcheck.py FILE.eml [--day DAY] [--cause KIND] [--unstable N]

The raw bytes: CRLF line ends, lines of at most 78 characters, 7-bit.  The
headers: Date (RFC 5322), Message-ID, MIME-Version 1.0, From, To, Subject
with the day and the count of unstable slots.  The structure:
multipart/alternative of text/plain and multipart/related (text/html and
image/png parts); every cid: of the HTML resolves to a part, every image
part is referenced; every PNG decodes (signature, chunk CRCs, IHDR, the
IDAT stream inflates to exactly the rows IHDR announces).  With --day and
--cause, both alternatives name the day and the cause.
Prints one line per problem; exit status 0 when there is none.
"""
import argparse
import email
import email.policy
import email.utils
import re
import struct
import sys
import zlib

problems = []


def bad(msg):
    problems.append(msg)


def check_png(data, name):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        bad("%s: no PNG signature" % name)
        return
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        if pos + 8 > len(data):
            bad("%s: truncated chunk header" % name)
            return
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]
        if zlib.crc32(kind + body) & 0xffffffff != crc:
            bad("%s: CRC of chunk %r" % (name, kind))
            return
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + n
    if ihdr is None or not idat:
        bad("%s: no IHDR or no IDAT" % name)
        return
    w, h, depth, ctype = ihdr[:4]
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(ctype)
    if channels is None or ihdr[6] != 0:
        bad("%s: colour type %d, interlace %d" % (name, ctype, ihdr[6]))
        return
    try:
        raw = zlib.decompress(idat)
    except zlib.error as e:
        bad("%s: IDAT does not inflate: %s" % (name, e))
        return
    row = (w * channels * depth + 7) // 8 + 1
    if len(raw) != row * h:
        bad("%s: %d bytes of rows, %dx%d wants %d" % (name, len(raw), w, h, row * h))
    if w < 100 or h < 50:
        bad("%s: %dx%d is too small for a chart" % (name, w, h))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--day")
    ap.add_argument("--cause")
    ap.add_argument("--unstable", type=int)
    a = ap.parse_args()
    raw = open(a.file, "rb").read()

    # the wire form
    if re.search(rb"(?<!\r)\n", raw) or re.search(rb"\r(?!\n)", raw):
        bad("a line does not end in CRLF")
    for i, line in enumerate(raw.split(b"\r\n")):
        if len(line) > 78:
            bad("line %d has %d characters" % (i + 1, len(line)))
            break
    if any(b > 127 for b in raw):
        bad("8-bit bytes in the message")

    m = email.message_from_bytes(raw, policy=email.policy.default)
    for h in ("Date", "Message-ID", "MIME-Version", "From", "To", "Subject"):
        if m[h] is None:
            bad("no %s header" % h)
    if problems:
        return report()
    if email.utils.parsedate_to_datetime(str(m["Date"])) is None:
        bad("Date %r does not parse" % m["Date"])
    if not re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", str(m["Message-ID"]).strip()):
        bad("Message-ID %r" % m["Message-ID"])
    if str(m["MIME-Version"]).strip() != "1.0":
        bad("MIME-Version %r" % m["MIME-Version"])
    subject = str(m["Subject"])
    if a.day and a.day not in subject:
        bad("Subject %r does not name %s" % (subject, a.day))
    if a.unstable is not None:
        want = "%d unstable slot%s" % (a.unstable, "" if a.unstable == 1 else "s")
        if a.unstable == 0:
            want = "no unstable slot"
        if want not in subject:
            bad("Subject %r does not say %r" % (subject, want))
    if a.cause and a.cause not in subject:
        bad("Subject %r does not name the cause %s" % (subject, a.cause))

    # the structure
    if m.get_content_type() != "multipart/alternative":
        bad("top level is %s" % m.get_content_type())
        return report()
    parts = list(m.iter_parts())
    kinds = [p.get_content_type() for p in parts]
    if kinds != ["text/plain", "multipart/related"]:
        bad("alternatives are %s" % kinds)
        return report()
    text = parts[0].get_content()
    related = list(parts[1].iter_parts())
    if not related or related[0].get_content_type() != "text/html":
        bad("multipart/related does not open with text/html")
        return report()
    html = related[0].get_content()
    if "<html" not in html.lower() or "</html>" not in html.lower():
        bad("the HTML is not a document")
    images = {}
    for p in related[1:]:
        if p.get_content_type() != "image/png":
            bad("a related part is %s" % p.get_content_type())
            continue
        cid = (p["Content-ID"] or "").strip()
        if not (cid.startswith("<") and cid.endswith(">")):
            bad("image without Content-ID")
            continue
        images[cid[1:-1]] = p.get_content()
    if not images:
        bad("no chart in the mail")
    refs = set(re.findall(r'src="cid:([^"]+)"', html))
    for r in sorted(refs - set(images)):
        bad("cid:%s of the HTML has no part" % r)
    for r in sorted(set(images) - refs):
        bad("image part <%s> is not used by the HTML" % r)
    if re.search(r'src="(?!cid:)', html) or "<script" in html.lower():
        bad("the HTML fetches something or runs a script")
    for cid, data in sorted(images.items()):
        check_png(data, cid)

    # the content
    for what, body in (("text", text), ("HTML", html)):
        if a.day and a.day not in body:
            bad("the %s does not name %s" % (what, a.day))
        if a.cause and a.cause not in body:
            bad("the %s does not name the cause %s" % (what, a.cause))
    return report()


def report():
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
