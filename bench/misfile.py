#!/usr/bin/env python3
"""Misfile detection on generated batches: how many seeded misfiles the
identity step catches, and how many normal pages it flags (false positives).

  bench/misfile.py CHARTVAULT WORKDIR SEEDDIR...

Each SEEDDIR is the output of samples/generate.sh --seed N DIR (batch/,
truth.json, patients.csv). Batches measured, all through the real binary
(OCR, segmentation, identity step) in one fresh archive:

  seedN      the generated batch as it is (one seeded misfile: a page of one
             patient inside another's bundle)
  mixed      one chart bundle (multi-page TIFF) per patient, built from the
             documents of every seed, with 2 pages of other patients put in
             at random inner positions (also inside multi-page documents);
             no manifest, no cover sheets: only the pages say whose they are
  manifest   the same kind of bundles with a manifest naming each bundle's
             patient, misfiles anywhere including first and last page

MISFILE_SEED (default 20261125) picks the donors and positions;
MISFILE_SKIP_SEEDS=1 measures only the mixed and manifest batches. Needs
ImageMagick (convert) and tiffcp (libtiff-tools). Prints one line per
batch and a total.
"""
import json
import os
import random
import shutil
import subprocess
import sys


def run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True,
                          **kw).stdout


def cv(binary, home, *args, ok=(0,)):
    p = subprocess.run([binary, "-C", home] + list(args),
                       capture_output=True, text=True)
    if p.returncode not in ok:
        sys.exit("chartvault %s failed (%d): %s" % (" ".join(args),
                                                     p.returncode, p.stderr))
    return p.stdout


def extract(src, page, out):
    """One page of src as a single-page TIFF (bilevel pages stay G4)."""
    if src.endswith(".tif"):
        run(["convert", "%s[%d]" % (src, page - 1), "-compress", "Group4",
             out])
    else:
        run(["convert", src, "-compress", "LZW", out])


def bundle(pages, out):
    # tiffcp streams page by page; ImageMagick would hold every page of a
    # long bundle in memory and hit its resource limits.
    run(["tiffcp"] + pages + [out])


def build_mixed(seeds, outdir, rng, with_manifest):
    """Chart bundles per patient with inserted pages of other patients.
    Returns truth: {(file, page_no): (mrn, misfiled)}."""
    os.makedirs(outdir)
    tmp = os.path.join(outdir, ".pages")
    os.makedirs(tmp)
    docs = []  # (mrn, [single-page tif paths]) in batch order
    n = 0
    for sd in seeds:
        t = json.load(open(os.path.join(sd, "truth.json")))
        for d in t["documents"]:
            paths = []
            for p in d["pages"]:
                n += 1
                out = os.path.join(tmp, "p%04d.tif" % n)
                extract(os.path.join(sd, "batch", p["file"]), p["page"], out)
                paths.append(out)
            docs.append((d["mrn"], paths))
    by_patient = {}
    for mrn, paths in docs:
        by_patient.setdefault(mrn, []).append(paths)
    mrns = sorted(by_patient)
    # Donors first: single pages of other patients' documents, taken out
    # of their own charts so that no page appears twice.
    inserts = {mrn: [] for mrn in mrns}
    for mrn in mrns:
        for _ in range(2):
            other = rng.choice([m for m in mrns if m != mrn])
            donor_doc = rng.choice([d for d in by_patient[other] if d])
            inserts[mrn].append(
                (donor_doc.pop(rng.randrange(len(donor_doc))), other))
    truth = {}
    manifest = ["file,mrn"]
    for k, mrn in enumerate(mrns):
        pages = [(p, mrn, False) for d in by_patient[mrn] for p in d]
        for donor, other in inserts[mrn]:
            lo, hi = (0, len(pages)) if with_manifest else (1, len(pages) - 1)
            pages.insert(rng.randint(lo, hi), (donor, other, True))
        name = "chart-%02d.tif" % (k + 1)
        bundle([p for p, _, _ in pages], os.path.join(outdir, name))
        for i, (_, m, mis) in enumerate(pages):
            truth[(name, i + 1)] = (m, mis)
        manifest.append("%s,%s" % (name, mrn))
    shutil.rmtree(tmp)
    if with_manifest:
        with open(os.path.join(outdir, "manifest.csv"), "w") as f:
            f.write("\n".join(manifest) + "\n")
    return truth


def seed_truth(sd):
    t = json.load(open(os.path.join(sd, "truth.json")))
    return {(p["file"], p["page"]): (p["mrn"], p["misfiled"])
            for p in t["pages"] if not p["blank"]}


def flagged_pages(binary, home, batch_id):
    """(file basename, page_no) of every page with an open misfile
    exception, and the number of unknown-patient documents, in a batch."""
    q = json.loads(cv(binary, home, "queue", "list", "--json"))
    flagged, unknown = set(), 0
    for item in q:
        if item["batch_id"] != batch_id:
            continue
        if "unknown-patient" in item["reasons"]:
            unknown += 1
        s = json.loads(cv(binary, home, "queue", "show",
                          str(item["document"]), "--json"))
        pages = {p["page_id"]: p for p in s["pages"]}
        for e in s["exceptions"]:
            if e["state"] == "open" and e["kind"] == "misfile":
                p = pages[e["page_id"]]
                flagged.add((os.path.basename(p["file"]), p["page_no"]))
    return flagged, unknown


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    binary, work, seeds = sys.argv[1], sys.argv[2], sys.argv[3:]
    rng = random.Random(int(os.environ.get("MISFILE_SEED", "20261125")))
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o711)
    home = os.path.join(work, "archive")
    batches = []  # (name, dir, truth, manifest)
    for sd in seeds if not os.environ.get("MISFILE_SKIP_SEEDS") else []:
        batches.append((os.path.basename(sd.rstrip("/")),
                        os.path.join(sd, "batch"), seed_truth(sd), None))
    mixed = os.path.join(work, "mixed")
    batches.append(("mixed", mixed, build_mixed(seeds, mixed, rng, False),
                    None))
    man = os.path.join(work, "manifest")
    batches.append(("manifest", man, build_mixed(seeds, man, rng, True),
                    os.path.join(man, "manifest.csv")))
    cv(binary, home, "init", home)
    cv(binary, home, "patients", "import",
       os.path.join(seeds[0], "patients.csv"))
    totals = [0, 0, 0, 0]
    print("%-10s %6s %9s %7s %8s %6s %8s" % ("batch", "pages", "misfiled",
                                              "caught", "flagged", "FP",
                                              "unknown"))
    for name, d, truth, manifest in batches:
        args = ["ingest", "--batch", name, "--json"]
        if manifest:
            args += ["--manifest", manifest]
        rep = json.loads(cv(binary, home, *(args + [d]), ok=(0, 1)))
        flagged, unknown = flagged_pages(binary, home, rep["batch_id"])
        mis = {k for k, (_, m) in truth.items() if m}
        normal = len(truth) - len(mis)
        caught = len(flagged & mis)
        fp = len(flagged - mis)
        print("%-10s %6d %9d %7d %8d %6d %8d" % (name, len(truth), len(mis),
                                                 caught, len(flagged), fp,
                                                 unknown))
        for k in sorted(flagged - mis):
            print("  false positive: %s p%d" % k)
        for k in sorted(mis - flagged):
            print("  missed: %s p%d" % k)
        totals[0] += normal
        totals[1] += len(mis)
        totals[2] += caught
        totals[3] += fp
    print("total: %d of %d seeded misfiles caught (%.1f%%); %d false"
          " positives in %d normal pages (%.2f%%)" %
          (totals[2], totals[1], 100.0 * totals[2] / max(totals[1], 1),
           totals[3], totals[0], 100.0 * totals[3] / max(totals[0], 1)))
    cv(binary, home, "db", "stop")


if __name__ == "__main__":
    main()
