#!/usr/bin/env python3
"""Typeset generated documents as letter-size PostScript pages, one file
per page, the way a printer would put them on paper: a font and size per
document, left margin and line spacing varied, pages split where the
generator put form feeds.

    render.py CORPUS_DIR LIST OUT_DIR SEED

LIST: lines "text/doc-00001.txt,TYPE" (a subset of CORPUS_DIR/labels.csv).
Writes OUT_DIR/ps/<stem>-pNN.ps and OUT_DIR/pages.tsv (stem, page, ps, skew,
format, noise seed). Standard library only.
"""
import os
import random
import sys

FONTS = ["Courier", "Helvetica", "Times-Roman", "Courier", "Helvetica"]


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
        fmt = r.choice(["g4", "g4", "gray"])
        for i, pg in enumerate(pages):
            lines = pg.split("\n")
            y = 792 - r.uniform(50, 70)
            ps = ["%!PS-Adobe-3.0", "<< /PageSize [612 792] >> setpagedevice",
                  "/%s findfont %.1f scalefont setfont" % (font, size)]
            for ln in lines:
                if y < 40:
                    break
                bold = ln.isupper() and len(ln) < 60 and ln.strip()
                if bold:
                    ps.append("/%s findfont %.1f scalefont setfont" % (
                        {"Courier": "Courier-Bold", "Helvetica": "Helvetica-Bold",
                         "Times-Roman": "Times-Bold"}[font], size + 1))
                ps.append("%.1f %.1f moveto (%s) show" % (left, y, ps_escape(ln)))
                if bold:
                    ps.append("/%s findfont %.1f scalefont setfont" % (font, size))
                y -= lead
            ps.append("showpage")
            name = "%s-p%02d.ps" % (stem, i + 1)
            with open(os.path.join(out, "ps", name), "w") as f:
                f.write("\n".join(ps) + "\n")
            rows.append("\t".join([stem, str(i + 1), name, "%.2f" % r.uniform(-2.0, 2.0), fmt,
                                   str(r.randint(1, 10 ** 6)), "1" if r.random() < 0.4 else "0"]))
    with open(os.path.join(out, "pages.tsv"), "w") as f:
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
