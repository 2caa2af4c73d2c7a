#!/usr/bin/env python3
"""Turn an ingest report (chartvault ingest --json) of rendered documents
into a labels file of document ids, and score the types ingest decided.

    doclabels.py INGEST.json SCAN-LABELS.csv OUT.csv [MIN_CONFIDENCE]

SCAN-LABELS.csv: "scans/FILE,TYPE" as written by render.sh. Each document
of the report takes the type of the file its first page came from. Prints
the at-ingest accuracy (title rules, then the model) and how many documents
the model was unsure of (under MIN_CONFIDENCE, default 0.6: those went to
the exception queue), as JSON on stdout.
"""
import csv
import json
import os
import sys


def main():
    rep = json.load(open(sys.argv[1]))
    want = {}
    for row in csv.reader(open(sys.argv[2])):
        if row and row[0] != "file":
            want[os.path.basename(row[0])] = row[1]
    threshold = float(sys.argv[4]) if len(sys.argv) > 4 else 0.6
    out = ["source,type"]
    n = right = unsure = unsure_wrong = filed_wrong = 0
    by_source = {}
    for d in rep["documents"]:
        f = os.path.basename(d["pages"][0]["file"])
        truth = want.get(f)
        if truth is None:
            continue
        out.append("%d,%s" % (d["id"], truth))
        n += 1
        ok = d["type"] == truth
        right += ok
        src = d.get("type_source") or "none"
        s = by_source.setdefault(src, [0, 0])
        s[0] += 1
        s[1] += ok
        conf = d.get("type_confidence") or 0
        if src == "model" and conf < threshold:
            unsure += 1
            unsure_wrong += not ok
        elif not ok:
            filed_wrong += 1
    open(sys.argv[3], "w").write("\n".join(out) + "\n")
    json.dump({"documents": n, "files": len(want), "accuracy_at_ingest": right / n if n else 0,
               "by_source": {k: {"documents": v[0], "right": v[1]} for k, v in by_source.items()},
               "queued_low_confidence": unsure, "queued_and_wrong": unsure_wrong,
               "filed_with_wrong_type": filed_wrong}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
