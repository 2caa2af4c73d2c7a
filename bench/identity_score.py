#!/usr/bin/env python3
"""Score what ingest found each page to say of its patient against what the
page's header prints (bench/identity.sh).

    identity_score.py FOUND.csv SAMPLES-TRUTH.json CORPUS_DIR RENDER-LIST.csv

FOUND.csv: batch,file,page,blank,found_mrn,found_name,found_dob,read_mrn,
read_name,read_dob (psql CSV).
A field counts as printed when the page's first six non-empty lines show
it: the MRN as digits, the date of birth as MM/DD/YYYY, the name as both
family and given name on one line. Found values are compared exactly (the
name as a set of words, any order). Standard library only.
"""
import csv
import datetime
import json
import os
import re
import sys

FIELDS = ("mrn", "name", "dob")


def words(s):
    return frozenset(w for w in re.split(r"[^A-Z'-]+", s.upper()) if w)


def printed(text, mrn, family, given, dob):
    head = [ln for ln in text.split("\n") if ln.strip()][:6]
    us = datetime.date.fromisoformat(dob).strftime("%m/%d/%Y")
    return {
        "mrn": any(mrn in ln for ln in head),
        "name": any(family.upper() in ln.upper() and given.upper() in ln.upper() for ln in head),
        "dob": any(us in ln for ln in head),
    }


def main():
    recorded, read = {}, {}
    for row in csv.reader(open(sys.argv[1])):
        batch, f, page, blank, mrn, name, dob, rmrn, rname, rdob = row
        key = (batch, os.path.basename(f), int(page))
        recorded[key] = {"mrn": mrn, "name": name, "dob": dob}
        read[key] = {"mrn": rmrn, "name": rname, "dob": rdob}

    truth = []  # (source, key, patient dict, printed dict)
    t = json.load(open(sys.argv[2]))
    people = {p["mrn"]: p for p in t["patients"]}
    for pg in t["pages"]:
        if pg.get("blank") or not pg.get("mrn"):
            continue
        p = people[pg["mrn"]]
        truth.append(("samples", ("samples", pg["file"], pg["page"]), p["mrn"], p["family"], p["given"],
                      p["dob"], printed(pg["text"], p["mrn"], p["family"], p["given"], p["dob"])))
    meta = {m["file"]: m for m in json.load(open(os.path.join(sys.argv[3], "meta.json")))}
    for row in csv.reader(open(sys.argv[4])):
        src = row[0]
        m = meta[src]
        stem = os.path.splitext(os.path.basename(src))[0]
        pages = open(os.path.join(sys.argv[3], src)).read().split("\f")
        fname = next((f for (b, f, _) in recorded if b == "generated" and os.path.splitext(f)[0] == stem), None)
        for i, text in enumerate(pages, 1):
            if not text.strip():
                continue
            truth.append(("generated", ("generated", fname, i), m["mrn"], m["family"], m["given"], m["dob"],
                          printed(text, m["mrn"], m["family"], m["given"], m["dob"])))

    report(truth, read, "as read off the page by OCR (pages.read_*)")
    print()
    report(truth, recorded, "as recorded, after checking the reading against the patient index (pages.found_*)")


def report(truth, found, title):
    totals = {}
    errors = []
    ident = {}  # source -> [pages with a printed identity, identified]
    for source, key, mrn, family, given, dob, pr in truth:
        got = found.get(key)
        want = {"mrn": mrn, "name": words(family + " " + given), "dob": dob}
        # Whose page it is, as the identity step decides it: by the MRN,
        # else by name and date of birth together.
        if pr["mrn"] or (pr["name"] and pr["dob"]):
            c = ident.setdefault(source, [0, 0])
            c[0] += 1
            if got and (got["mrn"] == mrn if got["mrn"] else
                        (words(got["name"]) == want["name"] and got["dob"] == dob)):
                c[1] += 1
        for fld in FIELDS:
            if not pr[fld]:
                continue
            c = totals.setdefault((source, fld), [0, 0, 0, 0])  # printed, right, missed, wrong
            c[0] += 1
            val = None if got is None else got[fld]
            if fld == "name" and val:
                val = words(val)
            if not val:
                c[2] += 1
                errors.append("%s %s p%d %s: missed" % (source, key[1], key[2], fld))
            elif val == want[fld]:
                c[1] += 1
            else:
                c[3] += 1
                errors.append("%s %s p%d %s: read a different value" % (source, key[1], key[2], fld))

    print("Identity from page headers, %s; pages whose header prints the field" % title)
    print("%-10s %-5s %8s %8s %7s %6s %9s" % ("source", "field", "printed", "correct", "missed", "wrong", "accuracy"))
    for fld in FIELDS:
        allc = [0, 0, 0, 0]
        for source in ("samples", "generated"):
            c = totals.get((source, fld), [0, 0, 0, 0])
            allc = [a + b for a, b in zip(allc, c)]
            if c[0]:
                print("%-10s %-5s %8d %8d %7d %6d %8.1f%%" % (source, fld, c[0], c[1], c[2], c[3], 100.0 * c[1] / c[0]))
        if allc[0]:
            print("%-10s %-5s %8d %8d %7d %6d %8.1f%%   (goal >= 99%%)" % ("all", fld, allc[0], allc[1], allc[2],
                                                                         allc[3], 100.0 * allc[1] / allc[0]))
    n = sum(c[0] for c in ident.values())
    k = sum(c[1] for c in ident.values())
    for source, c in sorted(ident.items()):
        print("pages identified (%s): %d of %d" % (source, c[1], c[0]))
    if n:
        print("pages identified, all: %d of %d (%.1f%%)" % (k, n, 100.0 * k / n))
    for e in errors[:40]:
        print("  " + e)


if __name__ == "__main__":
    main()
