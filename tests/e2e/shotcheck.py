#!/usr/bin/env python3
"""Checks a browser's screenshot of an HTML report against the report's charts.

    python3 tests/e2e/shotcheck.py SHOT.png REPORT.html

Every chart of REPORT.html (its data: URIs, decoded here) must appear pixel
for pixel somewhere in SHOT.png: that is what "the browser decoded and drew
the image" looks like.  A broken image (a damaged data: URI, a wrong MIME
type) draws nothing or a placeholder, and is not found.  The page must not
be blank either: enough pixels differ from the background colour.

Images are read with ImageMagick's convert (raw RGB), so this script needs
only the standard library.  Exit status 0 if all is well, 1 otherwise, with a
line per chart on standard output.
"""
import base64
import collections
import re
import subprocess
import sys


def raw_rgb(path_or_bytes):
    """(width, height, bytes) of an image, 8-bit RGB rows."""
    if isinstance(path_or_bytes, bytes):
        src, data = "png:-", path_or_bytes
    else:
        src, data = path_or_bytes, None
    ident = subprocess.run(["identify", "-format", "%w %h\n", src], input=data,
                           capture_output=True, check=True).stdout.split()
    w, h = int(ident[0]), int(ident[1])
    rgb = subprocess.run(["convert", src, "-alpha", "off", "-depth", "8", "rgb:-"],
                         input=data, capture_output=True, check=True).stdout
    if len(rgb) != w * h * 3:
        raise ValueError("unexpected raw size")
    return w, h, rgb


def find(shot, chart):
    """(x, y) of chart inside shot, or None: a distinctive row located, then all rows compared."""
    sw, sh, s = shot
    cw, ch, c = chart
    stride, row = sw * 3, cw * 3
    # the chart row with the most colour changes: least likely to match by chance
    best, best_score = 0, -1
    for y in range(ch):
        r = c[y * row:(y + 1) * row]
        score = sum(1 for i in range(3, row, 3) if r[i:i + 3] != r[i - 3:i])
        if score > best_score:
            best, best_score = y, score
    probe = c[best * row:(best + 1) * row]
    start = s.find(probe)
    while start >= 0:
        y0, off = divmod(start, stride)
        if off % 3 == 0 and off + row <= stride and y0 >= best:
            x, y = off // 3, y0 - best
            if y + ch <= sh and all(
                    s[(y + j) * stride + x * 3:(y + j) * stride + x * 3 + row] ==
                    c[j * row:(j + 1) * row] for j in range(ch)):
                return x, y
        start = s.find(probe, start + 1)
    return None


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    shot = raw_rgb(sys.argv[1])
    html = open(sys.argv[2], encoding="utf-8").read()
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    status = 0
    sw, sh, s = shot
    # not blank: the background is the most common pixel; a page of text,
    # tables and charts has far more than 2% of something else
    sample = collections.Counter(s[i:i + 3] for i in range(0, len(s), 3 * 7))
    bg, n_bg = sample.most_common(1)[0]
    frac = 1 - n_bg / sum(sample.values())
    if frac < 0.02:
        print("blank: %.3f%% of the pixels differ from the background" % (100 * frac))
        status = 1
    else:
        print("page: %.1f%% of the pixels differ from the background" % (100 * frac))
    if not uris:
        print("no chart in the page")
        status = 1
    for i, b in enumerate(uris):
        try:
            chart = raw_rgb(base64.b64decode(b, validate=True))
        except (ValueError, subprocess.CalledProcessError) as e:
            print("chart %d: does not decode (%s)" % (i, e))
            status = 1
            continue
        at = find(shot, chart)
        if at is None:
            print("chart %d (%dx%d): not found in the screenshot" % (i, chart[0], chart[1]))
            status = 1
        else:
            print("chart %d (%dx%d): drawn at %d,%d" % (i, chart[0], chart[1], at[0], at[1]))
    return status


if __name__ == "__main__":
    sys.exit(main())
