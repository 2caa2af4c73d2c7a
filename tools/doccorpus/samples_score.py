#!/usr/bin/env python3
"""Score an ingest of the samples (chartvault ingest --json samples/batch)
against samples/truth.json: document boundaries (precision, recall), and
per page whether its document got the right type and MRN.

    samples_score.py INGEST.json samples/truth.json
"""
import json
import os
import sys


def main():
    rep = json.load(open(sys.argv[1]))
    truth = json.load(open(sys.argv[2]))
    tpages = [p for p in truth["pages"] if not p.get("blank")]
    key = lambda f, n: (os.path.basename(f), n)
    tdoc = {key(p["file"], p["page"]): p for p in tpages}
    got = {}
    for d in rep["documents"]:
        for i, p in enumerate(d["pages"]):
            got[key(p["file"], p["page"])] = (d["id"], i == 0, d["type"], d.get("mrn"), d.get("type_source"))
    order = [key(p["file"], p["page"]) for p in tpages]
    true_b = pred_b = hit = 0
    type_ok = mrn_ok = missing = 0
    sources = {}
    for i, k in enumerate(order):
        t = tdoc[k]
        g = got.get(k)
        if g is None:
            missing += 1
            continue
        type_ok += g[2] == t["doc_type"]
        mrn_ok += g[3] == t["mrn"]
        sources[g[4]] = sources.get(g[4], 0) + 1
        if i == 0:
            continue
        tb = t["document"] != tdoc[order[i - 1]]["document"]
        pb = g[1]
        true_b += tb
        pred_b += pb
        hit += tb and pb
    n = len(order)
    print(json.dumps({"pages": n, "missing": missing, "boundaries": true_b, "found": pred_b, "right": hit,
                      "precision": hit / pred_b if pred_b else 1.0, "recall": hit / true_b if true_b else 1.0,
                      "type_right": "%d/%d" % (type_ok, n), "mrn_right": "%d/%d" % (mrn_ok, n),
                      "type_sources_by_page": sources}, indent=1))


if __name__ == "__main__":
    main()
