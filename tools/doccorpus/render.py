#!/usr/bin/env python3
"""Typeset generated documents as letter-size PostScript, the way a
printer and a scanner would leave them: a font and size per document,
margins and line spacing varied, the sheet skewed up to 2 degrees, dust
specks on some pages, grey paper on grey scans. One PostScript file per
document (pages split where the generator put form feeds), so one
Ghostscript call renders it: skew and speckle are drawn in PostScript
rather than with ImageMagick, which is an order of magnitude faster on a
busy machine.

    render.py CORPUS_DIR LIST OUT_DIR SEED

LIST: lines "text/doc-00001.txt,TYPE" (a subset of CORPUS_DIR/labels.csv).
Writes OUT_DIR/ps/<stem>.ps and OUT_DIR/docs.tsv (stem, format g4|gray,
pages). Standard library only.
"""
import os
import random
import sys

FONTS = ["Courier", "Helvetica", "Times-Roman", "Courier", "Helvetica"]
BOLD = {"Courier": "Courier-Bold", "Helvetica": "Helvetica-Bold", "Times-Roman": "Times-Bold"}


def ps_escape(s):
    out = []
    for ch in s:
        o = ord(ch)
        if ch in "()\\":
            out.append("\\" + ch)
        elif 32 <= o < 127:
            out.append(ch)
        else:
            out.append("?")
    return "".join(out)


def page_ps(r, lines, font, size, lead, left, gray, speckle):
    skew = r.uniform(-2.0, 2.0)
    ps = ["<< /PageSize [612 792] >> setpagedevice"]
    if gray:
        ps.append("%.3f setgray clippath fill" % r.uniform(0.90, 0.97))
    # Turn the sheet about its centre, as a crooked feed would.
    ps.append("306 396 translate %.2f rotate -306 -396 translate" % skew)
    ps.append("%.2f setgray" % (r.uniform(0.05, 0.25) if gray else 0))
    ps.append("/%s findfont %.1f scalefont setfont" % (font, size))
    y = 792 - r.uniform(50, 70)
    for ln in lines:
        if y < 40:
            break
        bold = ln.isupper() and 0 < len(ln.strip()) < 60
        if bold:
            ps.append("/%s findfont %.1f scalefont setfont" % (BOLD[font], size + 1))
        ps.append("%.1f %.1f moveto (%s) show" % (left, y, ps_escape(ln)))
        if bold:
            ps.append("/%s findfont %.1f scalefont setfont" % (font, size))
        y -= lead
    if speckle:
        for _ in range(r.randint(150, 600)):
            ps.append("newpath %.1f %.1f %.2f 0 360 arc fill" % (r.uniform(0, 612), r.uniform(0, 792),
                                                                 r.uniform(0.15, 0.6)))
    ps.append("showpage")
    return ps


def main():
    corpus, listing, out, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    r = random.Random(seed)
    os.makedirs(os.path.join(out, "ps"), exist_ok=True)
    rows = []
    for line in open(listing):
        line = line.strip()
        if not line:
            continue
        path, _ = line.rsplit(",", 1)
        stem = os.path.splitext(os.path.basename(path))[0]
        text = open(os.path.join(corpus, path)).read()
        pages = [p for p in text.split("\f") if p.strip()]
        font = r.choice(FONTS)
        size = r.choice([9.5, 10, 10.5, 11, 12])
        lead = size * r.uniform(1.15, 1.35)
        left = r.uniform(54, 80)
        # Grey scans are single pages; a bundle is a bilevel G4 TIFF.
        fmt = "gray" if len(pages) == 1 and r.random() < 0.35 else "g4"
        ps = ["%!PS-Adobe-3.0"]
        for pg in pages:
            ps += page_ps(r, pg.split("\n"), font, size, lead, left, fmt == "gray", r.random() < 0.4)
        with open(os.path.join(out, "ps", stem + ".ps"), "w") as f:
            f.write("\n".join(ps) + "\n")
        rows.append("\t".join([stem, fmt, str(len(pages))]))
    with open(os.path.join(out, "docs.tsv"), "w") as f:
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
