#!/usr/bin/env python3
"""Text and page-layout half of samples/generate.sh (python3 standard library only).

Writes, for one seed:
  WORK/pNNN.ps          one PostScript page per scanned page (clean, vector, letter size)
  WORK/manifest.tsv     one row per page: how generate.sh must render and degrade it
  OUT/truth.json, OUT/patients.csv, OUT/truth/<stem>-pNN.txt, OUT/README.md

Every line of text is laid out here (greedy word wrap with the URW base-35 AFM metrics that
ghostscript uses for Times/Helvetica/Courier), so the ground truth is exactly the list of lines
that the page prints.  Usage: compose.py SEED WORKDIR OUTDIR LABEL_EPS_DIR
"""
import json, os, random, sys, datetime

SEED = int(sys.argv[1]); WORK = sys.argv[2]; OUT = sys.argv[3]; EPSDIR = sys.argv[4]
R = random.Random(SEED)

FACILITY = "Riverbend General Hospital \u2014 Health Information Management"
AFMDIR = "/usr/share/fonts/type1/urw-base35"
FONTS = {"Times-Roman": "NimbusRoman-Regular", "Times-Bold": "NimbusRoman-Bold",
         "Helvetica": "NimbusSans-Regular", "Helvetica-Bold": "NimbusSans-Bold",
         "Courier": "NimbusMonoPS-Regular", "Courier-Bold": "NimbusMonoPS-Bold"}
_metrics = {}


def metrics(font):
    if font not in _metrics:
        m = {}
        for line in open(os.path.join(AFMDIR, FONTS[font] + ".afm"), encoding="latin-1"):
            if line.startswith("C "):
                f = dict(x.strip().split(" ", 1) for x in line.split(";") if x.strip())
                code, wx, name = int(f["C"]), float(f["WX"]), f["N"]
                if 32 <= code < 127:
                    m[chr(code)] = wx
                if name == "emdash":
                    m["\u2014"] = wx
        _metrics[font] = m
    return _metrics[font]


def width(s, font, size):
    m = metrics(font)
    return sum(m[c] for c in s) * size / 1000.0


def psstr(s):
    out = []
    for c in s:
        if c in "\\()":
            out.append("\\" + c)
        elif c == "\u2014":
            out.append("\\320")
        elif 32 <= ord(c) < 127:
            out.append(c)
        else:
            raise ValueError("character not printable with StandardEncoding: %r" % c)
    return "(" + "".join(out) + ")"


# ---------------------------------------------------------------- people (all fictitious)
PATIENTS = [
    dict(mrn="90001234", family="SAMPLEWOOD", given="ORLA", dob="1957-03-14", sex="F", case="chole"),
    dict(mrn="90002718", family="TESTCASE", given="BRIMLEY", dob="1971-08-02", sex="M", case="afib"),
    dict(mrn="90003306", family="FAKELEY", given="MARIVANE", dob="1989-11-23", sex="F", case="appy"),
    dict(mrn="90004451", family="MOCKRIDGE", given="TOLLAND", dob="1948-05-30", sex="M", case="ptx"),
    dict(mrn="90005097", family="DUMMERTON", given="PELLA", dob="2002-01-09", sex="F", case="dka"),
]
PBY = {p["case"]: p for p in PATIENTS}

DOCTYPES = {
    "dc": ("18842-5", "discharge summary", "DISCHARGE SUMMARY"),
    "prog": ("11506-3", "progress note", "PROGRESS NOTE"),
    "hp": ("34117-2", "history and physical", "HISTORY AND PHYSICAL"),
    "cons": ("11488-4", "consult note", "CONSULTATION"),
    "op": ("11504-8", "operative note", "OPERATIVE REPORT"),
    "lab": ("11502-2", "laboratory report", "LABORATORY REPORT"),
    "rad": ("18748-4", "diagnostic imaging report", "RADIOLOGY REPORT"),
    "consent": ("59284-0", "consent form", "INFORMED CONSENT"),
    "med": ("10160-0", "medication list", "MEDICATION LIST"),
}


def d(s):
    return datetime.date.fromisoformat(s)


def us(dt):
    return dt.strftime("%m/%d/%Y")


def age(p, on):
    b = d(p["dob"])
    return on.year - b.year - ((on.month, on.day) < (b.month, b.day))


def hdr(p):
    return "Patient: %s, %s   MRN: %s   DOB: %s" % (p["family"], p["given"], p["mrn"], us(d(p["dob"])))


def pick(*opts):
    return R.choice(opts)


def tm():
    return "%02d:%02d" % (R.randint(6, 19), R.randint(0, 59))


def sexword(p):
    return "woman" if p["sex"] == "F" else "man"


def pron(p):
    return ("she", "her", "She", "Her") if p["sex"] == "F" else ("he", "his", "He", "His")


# ---------------------------------------------------------------- case data
CASES = {
    "chole": dict(
        admit="2025-03-02", proc="2025-03-03", disch="2025-03-05",
        dx="acute calculous cholecystitis", proc_name="laparoscopic cholecystectomy",
        attending="Imogen Quillfeather, MD", service="General Surgery",
        pmh=["type 2 diabetes mellitus, diet and metformin controlled", "essential hypertension",
             "hyperlipidemia", "osteoarthritis of both knees"],
        psh=["total abdominal hysterectomy (2004)", "right carpal tunnel release (2016)"],
        meds=[("metformin", "500 mg", "by mouth", "twice daily with meals", "type 2 diabetes"),
              ("lisinopril", "10 mg", "by mouth", "once daily", "hypertension"),
              ("atorvastatin", "20 mg", "by mouth", "at bedtime", "hyperlipidemia"),
              ("acetaminophen", "650 mg", "by mouth", "every 6 hours as needed", "pain"),
              ("oxycodone", "5 mg", "by mouth", "every 6 hours as needed, max 5 days", "severe pain"),
              ("docusate sodium", "100 mg", "by mouth", "twice daily with oxycodone", "constipation")],
        allergies="penicillin (rash)",
    ),
    "afib": dict(
        admit="2025-06-08", proc="2025-06-08", disch="2025-06-10",
        dx="new-onset atrial fibrillation with rapid ventricular response", proc_name="",
        attending="Rafe Oxbury, MD", service="Hospital Medicine",
        pmh=["type 2 diabetes mellitus on metformin", "obstructive sleep apnea, uses CPAP",
             "obesity (BMI 34)", "gastroesophageal reflux disease"],
        psh=["left inguinal hernia repair (2012)"],
        meds=[("metoprolol succinate", "50 mg", "by mouth", "once daily", "rate control, atrial fibrillation"),
              ("apixaban", "5 mg", "by mouth", "twice daily", "stroke prevention, atrial fibrillation"),
              ("metformin", "1000 mg", "by mouth", "twice daily with meals", "type 2 diabetes"),
              ("omeprazole", "20 mg", "by mouth", "once daily before breakfast", "reflux"),
              ("atorvastatin", "40 mg", "by mouth", "at bedtime", "cardiovascular risk reduction")],
        allergies="no known drug allergies",
    ),
    "appy": dict(
        admit="2025-08-19", proc="2025-08-19", disch="2025-08-21",
        dx="acute appendicitis without perforation", proc_name="laparoscopic appendectomy",
        attending="Imogen Quillfeather, MD", service="General Surgery",
        pmh=["migraine without aura", "iron deficiency anemia, treated 2023"],
        psh=["no prior abdominal surgery", "wisdom tooth extraction (2008)"],
        meds=[("sumatriptan", "50 mg", "by mouth", "at migraine onset, may repeat once in 2 hours", "migraine"),
              ("ibuprofen", "600 mg", "by mouth", "every 6 hours as needed with food", "pain"),
              ("acetaminophen", "1000 mg", "by mouth", "every 8 hours as needed", "pain"),
              ("ondansetron", "4 mg", "by mouth (ODT)", "every 8 hours as needed", "nausea")],
        allergies="sulfonamide antibiotics (hives)",
    ),
    "ptx": dict(
        admit="2025-10-02", proc="2025-10-02", disch="2025-10-07",
        dx="right secondary spontaneous pneumothorax", proc_name="right chest tube thoracostomy",
        attending="Anselm Greywick, DO", service="Hospital Medicine",
        pmh=["chronic obstructive pulmonary disease, GOLD stage 3", "former smoker, 55 pack-years, quit 2019",
             "benign prostatic hyperplasia", "chronic kidney disease stage 3a"],
        psh=["coronary artery bypass grafting x3 (2011)", "right total hip arthroplasty (2018)"],
        meds=[("tiotropium", "18 mcg", "inhaled", "once daily", "COPD maintenance"),
              ("budesonide-formoterol", "160/4.5 mcg", "inhaled", "2 puffs twice daily", "COPD maintenance"),
              ("albuterol HFA", "90 mcg", "inhaled", "2 puffs every 4 hours as needed", "wheezing"),
              ("tamsulosin", "0.4 mg", "by mouth", "once daily after dinner", "prostatic hyperplasia"),
              ("aspirin", "81 mg", "by mouth", "once daily", "coronary artery disease"),
              ("rosuvastatin", "10 mg", "by mouth", "once daily", "coronary artery disease")],
        allergies="codeine (nausea and vomiting)",
    ),
    "dka": dict(
        admit="2025-11-12", proc="2025-11-13", disch="2025-11-15",
        dx="diabetic ketoacidosis, new diagnosis of type 1 diabetes mellitus",
        proc_name="peripherally inserted central catheter (PICC) placement",
        attending="Rafe Oxbury, MD", service="Hospital Medicine",
        pmh=["mild intermittent asthma", "hypothyroidism (Hashimoto thyroiditis)"],
        psh=["tonsillectomy (2009)"],
        meds=[("insulin glargine", "18 units", "subcutaneous", "once daily at 21:00", "basal insulin"),
              ("insulin lispro", "per scale", "subcutaneous", "with meals, 1 unit per 12 g carbohydrate", "prandial insulin"),
              ("levothyroxine", "75 mcg", "by mouth", "once daily on an empty stomach", "hypothyroidism"),
              ("albuterol HFA", "90 mcg", "inhaled", "2 puffs every 4 hours as needed", "asthma"),
              ("glucagon", "1 mg", "intramuscular", "once for severe hypoglycemia", "rescue")],
        allergies="no known drug allergies",
    ),
}

CLIN = {"rad": "Tobiah Fennimore, MD", "path": "Corvin Ashdown, MD", "cards": "Deshawn Marrowfield, MD",
        "pulm": "Linnea Brackwater, MD", "endo": "Saoirse Kettlewell, MD", "anes": "Priya Lanternfield, MD",
        "pa": "Maren Hollowbrook, PA-C", "rn": "Ezra Thimbleton, RN", "resident": "Calloway Birchend, MD"}

# ---------------------------------------------------------------- content building blocks
# A document body is a list of blocks: ("h", text) heading, ("p", [(font, text), ...]) paragraph,
# ("t", [line, ...]) monospaced table, ("gap",) extra space.


def H(t):
    return ("h", t)


def P(text, label=None):
    runs = []
    if label:
        runs.append(("Times-Bold", label))
    runs.append(("Times-Roman", text))
    return ("p", runs)


def T(lines):
    return ("t", lines)


def sig(name, when, verb="Electronically signed by"):
    return P("%s %s on %s at %s." % (verb, name, us(when), tm()))


def vitals(kind="adm"):
    if kind == "afib":
        hr, bp = R.randint(132, 158), "%d/%d" % (R.randint(128, 146), R.randint(78, 94))
    elif kind == "dka":
        hr, bp = R.randint(112, 128), "%d/%d" % (R.randint(98, 108), R.randint(58, 66))
    else:
        hr, bp = R.randint(72, 104), "%d/%d" % (R.randint(118, 152), R.randint(68, 90))
    return ("temperature %.1f C, heart rate %d, blood pressure %s, respiratory rate %d, "
            "oxygen saturation %d%% on %s" % (R.choice([36.8, 37.1, 37.4, 37.9, 38.3]), hr, bp,
                                            R.randint(14, 24), R.randint(90, 99),
                                            pick("room air", "2 L nasal cannula")))


def labrows(rows):
    lines = ["%-26s %-8s %-4s %-10s %s" % ("Test", "Result", "Flag", "Units", "Reference range")]
    lines.append("-" * 68)
    for name, val, units, lo, hi in rows:
        flag = ""
        try:
            v = float(val)
            if lo is not None and v < lo:
                flag = "L"
            if hi is not None and v > hi:
                flag = "H"
        except ValueError:
            pass
        if lo is None:
            ref = "<%s" % hi
        elif hi is None:
            ref = ">%s" % lo
        else:
            ref = "%s-%s" % (lo, hi)
        lines.append("%-26s %-8s %-4s %-10s %s" % (name, val, flag, units, ref))
    return lines


def medtable(meds):
    lines = ["%-22s %-11s %-14s %s" % ("Medication", "Dose", "Route", "Frequency")]
    lines.append("-" * 78)
    for name, dose, route, freq, _ in meds:
        freq = freq.split(",")[0]
        lines.append("%-22s %-11s %-14s %s" % (name, dose, route, freq))
    return lines


# ---------------------------------------------------------------- document generators
def doc_hp(p, c):
    s, o, S, O = pron(p)
    a = age(p, d(c["admit"]))
    b = []
    b.append(P(" %s, %s" % (c["attending"], c["service"]), "Admitting physician:"))
    if p["case"] == "chole":
        cc = "Right upper quadrant abdominal pain for two days."
        hpi = ("Ms. Samplewood is a %d-year-old %s with type 2 diabetes on metformin and hypertension who presents "
               "with constant right upper quadrant pain that began after a fatty evening meal two days ago. The pain "
               "radiates to the right scapula, is rated %d out of 10, and has been associated with nausea and two "
               "episodes of nonbloody emesis. %s reports subjective fevers and chills overnight. %s denies jaundice, "
               "acholic stools, or dark urine. %s had two similar but brief episodes last winter that resolved "
               "without treatment. Ultrasound in the emergency department showed gallstones with a thickened "
               "gallbladder wall and pericholecystic fluid, consistent with acute cholecystitis."
               % (a, sexword(p), R.randint(6, 9), S, S, S))
        exam = ("Ill-appearing but nontoxic. Sclerae anicteric. Abdomen soft, mildly distended, tender in the right "
                "upper quadrant with a positive Murphy sign and voluntary guarding; no rebound. Bowel sounds present. "
                "No hepatosplenomegaly. Extremities without edema.")
        ap = [("Acute calculous cholecystitis.", "Admit to General Surgery. Nothing by mouth, intravenous fluids, "
               "intravenous ceftriaxone and metronidazole (penicillin allergy is a remote rash). Plan laparoscopic "
               "cholecystectomy tomorrow morning; risks and benefits discussed."),
              ("Type 2 diabetes mellitus.", "Hold metformin while nothing by mouth and for contrast exposure; "
               "insulin sliding scale with glucose checks every 6 hours."),
              ("Hypertension.", "Continue lisinopril once taking by mouth; hydralazine as needed for systolic "
               "pressure above 170."),
              ("Prophylaxis.", "Subcutaneous heparin and sequential compression devices.")]
    elif p["case"] == "appy":
        cc = "Periumbilical pain migrating to the right lower quadrant since yesterday."
        hpi = ("Ms. Fakeley is a %d-year-old %s who developed dull periumbilical pain about 20 hours ago that "
               "migrated to the right lower quadrant this morning and became sharp and constant. %s has anorexia, "
               "nausea without vomiting, and a low-grade fever at home. Pain is worse with walking and with the car "
               "ride to the hospital. Last menstrual period was 12 days ago; urine pregnancy test is negative. "
               "No urinary symptoms, no diarrhea, no vaginal discharge. %s has never had abdominal surgery."
               % (a, sexword(p), S, S))
        exam = ("Uncomfortable, lying still. Abdomen with focal tenderness at McBurney point, positive Rovsing and "
                "psoas signs, mild guarding in the right lower quadrant, no generalized peritonitis. Pelvic "
                "examination deferred given imaging findings. Heart regular, lungs clear.")
        ap = [("Acute appendicitis, uncomplicated on CT.", "Surgical consent obtained for laparoscopic "
               "appendectomy this evening. Cefoxitin is avoided because of prior sulfonamide reaction history only "
               "by preference; give ceftriaxone and metronidazole preoperatively."),
              ("Pain and nausea.", "Intravenous acetaminophen, low-dose morphine as needed, ondansetron."),
              ("Migraine.", "Sumatriptan as needed after surgery."),
              ("Disposition.", "Expected discharge in 24 to 48 hours if tolerating a diet.")]
    else:  # dka
        cc = "Vomiting, abdominal pain, and extreme thirst for three days."
        hpi = ("Ms. Dummerton is a %d-year-old %s with asthma and hypothyroidism, previously without diabetes, "
               "who presents with three days of polyuria, polydipsia, nausea, and repeated vomiting, and a "
               "weight loss of about 6 kg over the past month. Her roommate brought her in because she seemed "
               "confused this morning. Point-of-care glucose in the emergency department read above 450 mg/dL "
               "and a venous blood gas showed a pH of 7.12. Serum ketones are strongly positive. %s denies "
               "alcohol use or recent illness other than a sore throat two weeks ago." % (a, sexword(p), S))
        exam = ("Drowsy but oriented to person and place, Kussmaul respirations with a fruity odor on the breath. "
                "Dry mucous membranes, capillary refill 3 seconds. Abdomen diffusely tender without rebound. "
                "Lungs clear without wheezing. No focal neurologic deficit.")
        ap = [("Diabetic ketoacidosis, severe, new-onset diabetes.", "Admit to the step-down unit. Insulin "
               "infusion per DKA protocol, 0.9% saline bolus then maintenance with dextrose once glucose is below "
               "250 mg/dL. Basic metabolic panel every 2 hours; replace potassium to keep 4 to 5 mmol/L."),
              ("Suspected type 1 diabetes.", "Send GAD65 and islet antigen 2 antibodies and C-peptide; "
               "Endocrinology consult requested."),
              ("Hypothyroidism.", "Continue levothyroxine; check TSH."),
              ("Vascular access.", "Two peripheral lines now; consider PICC if access becomes difficult.")]
    b.append(P(" " + cc, "Chief complaint:"))
    b.append(H("History of Present Illness"))
    b.append(P(hpi))
    b.append(H("Past Medical History"))
    b.append(P("; ".join(c["pmh"]) + "."))
    b.append(P(" " + "; ".join(c["psh"]) + ".", "Past surgical history:"))
    b.append(P(" " + ", ".join("%s %s %s" % (m[0], m[1], m[3]) for m in c["meds"][:3]) + ".",
               "Home medications:"))
    b.append(P(" " + c["allergies"] + ".", "Allergies:"))
    b.append(P(" " + pick("Lives with spouse; retired bookkeeper.", "Lives alone in an apartment; works in retail.",
                          "Shares a house with a roommate; graduate student.", "Lives with partner and two cats.")
               + " " + pick("Never smoker.", "No tobacco use.", "Quit smoking many years ago.") + " "
               + pick("Drinks alcohol rarely.", "Occasional wine with dinner.", "No alcohol or drug use."),
               "Social history:"))
    b.append(P(" " + pick("Mother with type 2 diabetes and hypertension.", "Father died of myocardial infarction at 71.",
                          "Noncontributory.", "Sister with autoimmune thyroid disease."), "Family history:"))
    b.append(H("Review of Systems"))
    b.append(P("Ten-point review of systems is negative except as noted in the history of present illness. "
               + pick("No chest pain or palpitations.", "No cough or shortness of breath.",
                      "No headache or visual change.") + " "
               + pick("No rash.", "No joint swelling.", "No bleeding or easy bruising.")))
    b.append(H("Physical Examination"))
    b.append(P(" " + vitals("dka" if p["case"] == "dka" else "adm") + ".", "Vital signs:"))
    b.append(P(exam))
    b.append(H("Assessment and Plan"))
    for i, (t, x) in enumerate(ap, 1):
        b.append(P(" " + x, "%d. %s" % (i, t)))
    b.append(P(" Full code, confirmed with the patient.", "Code status:"))
    b.append(sig(c["attending"], d(c["admit"])))
    return d(c["admit"]), c["attending"], b


def doc_op(p, c):
    day = d(c["proc"])
    b = [P(" %s" % us(day), "Date of operation:"),
         P(" %s" % c["attending"], "Surgeon:"),
         P(" %s" % CLIN["pa"], "Assistant:"),
         P(" %s; general endotracheal anesthesia" % CLIN["anes"], "Anesthesia:")]
    if p["case"] == "chole":
        pre, post = "Acute calculous cholecystitis.", "Acute gangrenous cholecystitis with cholelithiasis."
        proc = "Laparoscopic cholecystectomy with intraoperative cholangiogram."
        ind = ("The patient is a %d-year-old woman admitted with two days of right upper quadrant pain, "
               "leukocytosis, and ultrasound findings of acute cholecystitis. The risks of bleeding, infection, "
               "bile duct injury, bile leak, retained stones, conversion to an open operation, and anesthesia were "
               "explained, and written consent was obtained." % age(p, day))
        steps = ["The patient was placed supine, general anesthesia was induced, and the abdomen was prepared and "
                 "draped in sterile fashion. A time-out was performed. Pneumoperitoneum was established with a "
                 "Hasson technique at the umbilicus, and three additional 5 mm ports were placed under direct vision.",
                 "The gallbladder was distended, edematous, and partly gangrenous at the fundus, with omental "
                 "adhesions. It was decompressed with a needle aspirator. The adhesions were taken down bluntly. "
                 "The triangle of Calot was dissected, and the critical view of safety was achieved, with only the "
                 "cystic duct and cystic artery entering the gallbladder.",
                 "A cholangiogram through the cystic duct showed free flow of contrast into the duodenum without "
                 "filling defects. The cystic duct and artery were clipped and divided. The gallbladder was removed "
                 "from the liver bed with electrocautery, placed in a retrieval bag, and extracted through the "
                 "umbilical port. Hemostasis was confirmed and the right upper quadrant irrigated.",
                 "The fascia at the umbilicus was closed with 0 absorbable suture and the skin with 4-0 subcuticular "
                 "suture. Sponge, needle, and instrument counts were correct twice."]
        ebl, spec = "25 mL", "Gallbladder with stones, to pathology."
        finding = ("Distended gallbladder with a gangrenous fundus and an impacted stone in Hartmann pouch; "
                   "normal-caliber common bile duct on cholangiogram; mildly fatty liver; no ascites.")
        plan = ("Admit to the surgical floor. Clear liquid diet tonight, advance as tolerated. Continue "
                "ceftriaxone and metronidazole for 24 hours only given gangrene without perforation. Resume "
                "metformin when eating and creatinine is stable. Oral analgesia, incentive spirometry, early "
                "ambulation. Likely discharge on postoperative day two.")
    else:
        pre, post = "Acute appendicitis.", "Acute suppurative appendicitis without perforation."
        proc = "Laparoscopic appendectomy."
        ind = ("The patient is a %d-year-old woman with migratory right lower quadrant pain, leukocytosis, and CT "
               "findings of a dilated, inflamed appendix. The risks of bleeding, infection, abscess, injury to "
               "bowel or bladder, stump leak, and conversion to open appendectomy were discussed, and she agreed "
               "to proceed." % age(p, day))
        steps = ["After induction of general anesthesia the patient was positioned supine with both arms tucked, a "
                 "urinary catheter was not required as she voided preoperatively, and the abdomen was prepared and "
                 "draped. A time-out confirmed patient, procedure, and antibiotics.",
                 "A 12 mm umbilical port was placed by open technique and two 5 mm ports in the suprapubic and left "
                 "lower quadrant positions. The appendix was retrocecal, erythematous, and swollen, with a small "
                 "amount of cloudy fluid in the pelvis but no perforation or abscess. Fluid was aspirated and sent "
                 "for culture.",
                 "The mesoappendix was divided with a bipolar sealing device. The base of the appendix was healthy "
                 "and was divided with an endoscopic linear stapler. The appendix was removed in a retrieval bag. "
                 "The staple line was hemostatic, and the pelvis and right gutter were irrigated until clear.",
                 "Ports were removed under vision. The umbilical fascia was closed with 0 absorbable suture, and "
                 "skin incisions with 4-0 subcuticular suture and skin glue. Counts were correct."]
        ebl, spec = "10 mL", "Appendix, to pathology; peritoneal fluid for culture."
        finding = ("Retrocecal, swollen, suppurative appendix with a palpable appendicolith; 20 mL of cloudy "
                   "pelvic fluid; normal terminal ileum with no Meckel diverticulum; normal right ovary and tube.")
        plan = ("Regular diet tonight as tolerated. One further dose of antibiotics only, since the appendix was "
                "not perforated. Ibuprofen and acetaminophen for pain with opioids reserved for breakthrough. "
                "Ambulate this evening. Anticipate discharge within 24 hours after appendectomy.")
    b += [P(" " + pre, "Preoperative diagnosis:"), P(" " + post, "Postoperative diagnosis:"),
          P(" " + proc, "Procedure:"), H("Indications"), P(ind), H("Description of Procedure")]
    b += [P(x) for x in steps]
    b += [H("Findings"), P(finding)]
    b += [P(" %s." % ebl, "Estimated blood loss:"), P(" %s" % spec, "Specimens:"),
          P(" None.", "Drains:"), P(" " + pick("Clean-contaminated (class II).", "Class II, clean-contaminated."),
                                     "Wound classification:"),
          P(" None.", "Complications:"), P(" " + pick("Stable, extubated, to the recovery unit.",
                                                        "Extubated in the operating room and taken to recovery in stable condition."),
                                           "Condition:"),
          H("Postoperative Plan"), P(plan),
          P("I was present and scrubbed for the entire procedure. %s assisted with camera operation and "
            "retraction, and her assistance was necessary because no qualified resident was available."
            % CLIN["pa"]),
          sig(c["attending"], day)]
    return day, c["attending"], b


LABSETS = {
    "chole": [("WBC", "15.8", "K/uL", 4.0, 11.0), ("Hemoglobin", "13.1", "g/dL", 12.0, 15.5),
              ("Platelets", "312", "K/uL", 150, 400), ("Sodium", "136", "mmol/L", 135, 145),
              ("Potassium", "3.9", "mmol/L", 3.5, 5.1), ("Glucose", "188", "mg/dL", 70, 99),
              ("Creatinine", "0.84", "mg/dL", 0.5, 1.1), ("Total bilirubin", "1.6", "mg/dL", 0.2, 1.2),
              ("Alkaline phosphatase", "142", "U/L", 40, 129), ("AST", "58", "U/L", 10, 40),
              ("ALT", "71", "U/L", 7, 45), ("Lipase", "42", "U/L", 13, 60), ("C-reactive protein", "96", "mg/L", None, 5)],
    "afib": [("WBC", "8.1", "K/uL", 4.0, 11.0), ("Hemoglobin", "14.6", "g/dL", 13.5, 17.5),
             ("Hematocrit", "43.9", "%", 39.0, 50.0), ("MCV", "88", "fL", 80, 100),
             ("RDW", "13.2", "%", 11.5, 14.5), ("Neutrophils", "61", "%", 40, 75),
             ("Lymphocytes", "27", "%", 20, 45), ("Platelets", "244", "K/uL", 150, 400), ("Sodium", "139", "mmol/L", 135, 145),
             ("Potassium", "3.4", "mmol/L", 3.5, 5.1), ("Chloride", "101", "mmol/L", 98, 107),
             ("Bicarbonate", "24", "mmol/L", 22, 29), ("BUN", "18", "mg/dL", 7, 20),
             ("Creatinine", "1.02", "mg/dL", 0.7, 1.3), ("Glucose", "164", "mg/dL", 70, 99),
             ("Magnesium", "1.6", "mg/dL", 1.7, 2.4), ("TSH", "2.31", "mIU/L", 0.4, 4.5),
             ("Troponin I, high sens.", "9", "ng/L", None, 20), ("NT-proBNP", "612", "pg/mL", None, 125),
             ("Hemoglobin A1c", "7.9", "%", 4.0, 5.6), ("INR", "1.0", "", 0.9, 1.1)],
    "ptx": [("WBC", "10.9", "K/uL", 4.0, 11.0), ("Hemoglobin", "12.7", "g/dL", 13.5, 17.5),
            ("Platelets", "201", "K/uL", 150, 400), ("Sodium", "141", "mmol/L", 135, 145),
            ("Potassium", "4.6", "mmol/L", 3.5, 5.1), ("Bicarbonate", "31", "mmol/L", 22, 29),
            ("Creatinine", "1.48", "mg/dL", 0.7, 1.3), ("eGFR", "47", "mL/min", 60, None),
            ("Arterial pH", "7.36", "", 7.35, 7.45), ("Arterial pCO2", "52", "mmHg", 35, 45),
            ("Arterial pO2", "61", "mmHg", 80, 100), ("Lactate", "1.1", "mmol/L", 0.5, 2.0)],
    "dka": [("Glucose", "486", "mg/dL", 70, 99), ("Sodium", "131", "mmol/L", 135, 145),
            ("Potassium", "5.4", "mmol/L", 3.5, 5.1), ("Chloride", "96", "mmol/L", 98, 107),
            ("Bicarbonate", "9", "mmol/L", 22, 29), ("Anion gap", "26", "mmol/L", 8, 16),
            ("BUN", "24", "mg/dL", 7, 20), ("Creatinine", "1.21", "mg/dL", 0.5, 1.1),
            ("Beta-hydroxybutyrate", "6.8", "mmol/L", None, 0.3), ("Venous pH", "7.12", "", 7.32, 7.42),
            ("Hemoglobin A1c", "11.4", "%", 4.0, 5.6), ("TSH", "3.02", "mIU/L", 0.4, 4.5),
            ("Lipase", "38", "U/L", 13, 60), ("WBC", "14.2", "K/uL", 4.0, 11.0)],
}


def doc_lab(p, c):
    day = d(c["admit"])
    rows = LABSETS[p["case"]]
    acc = "L%s-%04d" % (day.strftime("%y%m%d"), R.randint(100, 9999))
    b = [P(" %s   Ordering provider: %s" % (acc, c["attending"]), "Accession:"),
         P(" Blood, venous and arterial as noted.   Collected: %s %s   Received: %s %s"
           % (us(day), tm(), us(day), tm()), "Specimen:"),
         P(" Final. Results verified by the clinical laboratory; flags H and L mark values outside the "
           "reference range for the age and sex of the patient.", "Status:")]
    if p["case"] == "afib":
        b += [H("Hematology"), T(labrows(rows[:8])),
              P("Automated differential reviewed; no blasts or schistocytes flagged. Platelet clumping absent."),
              H("Chemistry"), T(labrows(rows[8:14])), H("Endocrine, Cardiac and Coagulation"),
              T(labrows(rows[14:]))]
    else:
        b += [H("Results"), T(labrows(rows))]
    comments = {
        "chole": "Leukocytosis with mildly elevated bilirubin and transaminases, compatible with acute "
                 "cholecystitis; lipase is normal, making pancreatitis unlikely. Glucose elevation noted in a "
                 "patient on metformin. Hemolysis index within acceptable limits for all chemistry results.",
        "afib": "Potassium and magnesium are low and were called to the ordering provider, who read the values "
                "back. High-sensitivity troponin below the 99th percentile; repeat at 3 hours recommended per "
                "chest pain pathway. Hemoglobin A1c of 7.9% indicates suboptimal glycemic control on metformin. "
                "TSH is within the reference interval, which argues against thyrotoxicosis as a trigger for "
                "atrial fibrillation. NT-proBNP is elevated and should be interpreted with the heart rate and "
                "rhythm at the time of collection. Specimen integrity acceptable; no hemolysis, lipemia or icterus "
                "detected. The INR is provided as a baseline before anticoagulation.",
        "ptx": "Arterial blood gas drawn on 2 L nasal cannula shows chronic compensated hypercapnia with "
               "hypoxemia, consistent with known COPD; the result was discussed with the respiratory therapist. "
               "Creatinine is at the known baseline for chronic kidney disease stage 3a. Mild normocytic anemia.",
        "dka": "CRITICAL VALUES: glucose 486 mg/dL and bicarbonate 9 mmol/L called to the emergency department "
               "nurse, read back and confirmed. The anion gap is calculated as sodium minus chloride and "
               "bicarbonate. Pseudohyponatremia should be considered with this degree of hyperglycemia.",
    }
    b += [H("Laboratory Comments"), P(comments[p["case"]])]
    b += [P("Performed at Riverbend General Hospital Core Laboratory, 400 Millrace Road. Laboratory director: %s."
            % CLIN["path"])]
    return day, CLIN["path"], b


def doc_rad(p, c):
    day = d(c["admit"])
    acc = "R%s-%04d" % (day.strftime("%y%m%d"), R.randint(100, 9999))
    if p["case"] == "chole":
        exam, hist = "US ABDOMEN LIMITED, RIGHT UPPER QUADRANT", "Right upper quadrant pain, fever, positive Murphy sign."
        tech = "Real-time grayscale and color Doppler sonography of the right upper quadrant."
        find = ["The gallbladder is distended and contains multiple mobile shadowing stones, the largest 1.8 cm, "
                "with one stone impacted in the gallbladder neck. The gallbladder wall is thickened to 6 mm with "
                "a small amount of pericholecystic fluid. A sonographic Murphy sign was elicited by the "
                "technologist.",
                "The common bile duct measures 5 mm without visible choledocholithiasis. The liver is mildly "
                "echogenic, consistent with fatty infiltration, without focal lesion. The pancreatic head is "
                "unremarkable where seen. The right kidney shows no hydronephrosis."]
        imp = ["Acute calculous cholecystitis with an impacted stone in the gallbladder neck.",
               "No biliary ductal dilatation.", "Hepatic steatosis."]
    elif p["case"] == "afib":
        exam, hist = "XR CHEST 2 VIEWS", "Palpitations, new atrial fibrillation, shortness of breath."
        tech = "Frontal and lateral radiographs of the chest."
        find = ["The cardiac silhouette is mildly enlarged. Pulmonary vascularity is normal without interstitial "
                "edema. There is no focal consolidation, pleural effusion, or pneumothorax.",
                "The mediastinal contours are normal for age. The trachea is midline. The costophrenic angles "
                "are sharp on both views. No hilar mass or adenopathy is suggested. The visualized upper abdomen "
                "shows a normal gas pattern without free air under the hemidiaphragms.",
                "Mild degenerative changes of the thoracic spine. No acute osseous abnormality. Comparison: none "
                "available in this system. If symptoms persist, echocardiography would better assess chamber "
                "size and the possibility of a pericardial effusion."]
        imp = ["Mild cardiomegaly.", "No acute cardiopulmonary process."]
    elif p["case"] == "appy":
        exam, hist = "CT ABDOMEN AND PELVIS WITH IV CONTRAST", "Right lower quadrant pain, leukocytosis."
        tech = ("Axial images from the diaphragm to the pubic symphysis after 90 mL of intravenous contrast, with "
                "coronal and sagittal reformats. Dose reduction technique was used.")
        find = ["The appendix is retrocecal, dilated to 11 mm, with wall thickening, mucosal hyperenhancement, and "
                "surrounding fat stranding. A 6 mm appendicolith is present near the base. No extraluminal gas or "
                "drainable fluid collection.",
                "Trace free fluid in the pelvis, likely physiologic. The liver, gallbladder, spleen, pancreas, and "
                "adrenal glands are unremarkable. Kidneys enhance symmetrically without hydronephrosis. Uterus and "
                "ovaries are within normal limits for age. No bowel obstruction."]
        imp = ["Acute appendicitis with an appendicolith, without perforation or abscess.",
               "Findings discussed with the emergency physician by telephone at the time of interpretation."]
    else:  # ptx
        exam, hist = "XR CHEST 1 VIEW PORTABLE", "Sudden right chest pain and dyspnea, COPD."
        tech = "Single portable frontal radiograph of the chest, patient upright."
        find = ["There is a large right pneumothorax with the visceral pleural line 4.5 cm from the apex and "
                "3 cm from the lateral chest wall. No mediastinal shift to suggest tension. Mild leftward "
                "deviation of the trachea is not present.",
                "The lungs are hyperinflated with flattened hemidiaphragms and upper lobe predominant emphysema. "
                "Median sternotomy wires and surgical clips from prior bypass surgery. No pleural effusion on the "
                "left. Heart size is within normal limits."]
        imp = ["Large right pneumothorax without radiographic signs of tension.", "Severe emphysema.",
               "Critical result communicated to the ordering physician, who acknowledged receipt."]
    b = [P(" %s" % exam, "Examination:"), P(" %s   Performed: %s %s" % (acc, us(day), tm()), "Accession:"),
         P(" %s" % c["attending"], "Ordering physician:"),
         P(" " + hist, "Clinical history:"), P(" " + tech, "Technique:"), H("Findings")]
    b += [P(x) for x in find]
    b += [H("Impression")] + [P("%d. %s" % (i, x)) for i, x in enumerate(imp, 1)]
    b += [P("Interpreted by %s, Department of Radiology. This report was dictated with speech recognition "
            "software and reviewed for accuracy; minor transcription errors may persist." % CLIN["rad"]),
          sig(CLIN["rad"], day)]
    return day, CLIN["rad"], b


def doc_med(p, c):
    day = d(c["disch"])
    b = [P(" %s" % c["allergies"], "Allergies:"),
         P(" Discharge reconciliation performed with the patient and the outpatient pharmacy fill history. "
           "This list replaces all previous medication lists. Bring it to every appointment.", "Purpose:"),
         H("Current Medications"), T(medtable(c["meds"])), H("Instructions by Medication")]
    for name, dose, route, freq, why in c["meds"]:
        extra = {"metformin": " Do not take on the day of a CT scan with contrast until kidney function is checked.",
                 "apixaban": " Do not skip doses. Tell every dentist and surgeon that you take a blood thinner.",
                 "insulin glargine": " Never skip basal insulin, even when you are not eating.",
                 "oxycodone": " May cause drowsiness; do not drive or drink alcohol while taking it.",
                 "tamsulosin": " Rise slowly from sitting to avoid dizziness."}.get(name, "")
        b.append(P(" %s %s %s, %s, for %s.%s" % (name.capitalize(), dose, route, freq, why, extra),
                   "-"))
    stopped = {"chole": "None stopped.", "afib": "Aspirin 81 mg was stopped because apixaban was started.",
               "ptx": "Fluticasone-salmeterol was stopped and replaced by budesonide-formoterol.",
               "dka": "No medications were stopped; insulin is new.", "appy": "None stopped."}[p["case"]]
    b += [P(" " + stopped, "Stopped medications:"),
          P(" Reviewed with the patient, who verbalized understanding and received a printed copy. Questions "
            "about this list can be directed to the inpatient pharmacy at extension 4471.", "Counseling:"),
          P("Reconciled by %s, Clinical Pharmacist, and %s." % (pick("Wren Pocklington, PharmD",
                                                                     "Odile Fairweather, PharmD"), c["attending"])),
          sig(c["attending"], day)]
    return day, c["attending"], b


def doc_dc(p, c):
    a, dd = d(c["admit"]), d(c["disch"])
    s, o, S, O = pron(p)
    if p["case"] == "chole":
        course = ["The patient was admitted with acute calculous cholecystitis and treated with intravenous "
                  "antibiotics and fluids. She underwent laparoscopic cholecystectomy on %s, which showed a "
                  "partly gangrenous gallbladder; the cholangiogram was normal. Her postoperative course was "
                  "uncomplicated. She tolerated a regular diet on postoperative day one and pain was controlled "
                  "with oral analgesics." % us(d(c["proc"])),
                  "Blood glucose ranged from 140 to 210 mg/dL on sliding scale insulin; metformin was resumed on "
                  "the day of discharge after a normal creatinine. Blood pressure was controlled on lisinopril. "
                  "Pathology confirmed acute and chronic cholecystitis with cholelithiasis and no malignancy."]
        dx = ["Acute gangrenous calculous cholecystitis, status post laparoscopic cholecystectomy.",
              "Type 2 diabetes mellitus.", "Hypertension.", "Hepatic steatosis."]
        fu = "General Surgery clinic with %s in 2 weeks for a wound check; primary care in 1 week." % c["attending"]
    elif p["case"] == "appy":
        course = ["The patient was admitted with CT-confirmed acute appendicitis and underwent an uncomplicated "
                  "laparoscopic appendectomy on the day of admission. She received one day of antibiotics, was "
                  "advanced to a regular diet, and was ambulating independently. Pain was well controlled on "
                  "ibuprofen and acetaminophen without opioids on the day of discharge."]
        dx = ["Acute suppurative appendicitis with appendicolith, status post laparoscopic appendectomy.",
              "Migraine without aura."]
        fu = "General Surgery clinic in 2 weeks. Return for fever, wound redness, or worsening pain."
    else:  # ptx
        course = ["The patient presented with sudden right chest pain and dyspnea. A portable chest radiograph "
                  "showed a large right pneumothorax in the setting of severe emphysema. A 14 French pigtail chest "
                  "tube was placed in the emergency department with prompt re-expansion of the lung.",
                  "The chest tube remained on suction for two days with a persistent small air leak, which "
                  "resolved on hospital day three. After a successful water seal trial and clamp trial, the tube "
                  "was removed on %s; the follow-up radiograph showed no recurrent pneumothorax." % us(dd - datetime.timedelta(days=1)),
                  "COPD was managed with scheduled bronchodilators and a short course of prednisone for "
                  "wheezing. Pulmonology recommended evaluation for pleurodesis if the pneumothorax recurs, and "
                  "the patient was counseled to avoid air travel for at least two weeks. Creatinine remained at "
                  "baseline throughout the stay. Oxygen was weaned to his home requirement of 2 L with exertion."]
        dx = ["Right secondary spontaneous pneumothorax, treated with chest tube thoracostomy.",
              "Chronic obstructive pulmonary disease with mild exacerbation.", "Chronic kidney disease stage 3a.",
              "Coronary artery disease, status post bypass grafting."]
        fu = ("Pulmonology clinic with %s in 1 week with a chest radiograph; primary care in 2 weeks. Return "
              "immediately for sudden chest pain or shortness of breath." % CLIN["pulm"])
    b = [P(" %s   Discharge date: %s" % (us(a), us(dd)), "Admission date:"),
         P(" %s, %s" % (c["attending"], c["service"]), "Attending physician:"),
         P(" " + c["dx"].capitalize() + ".", "Admitting diagnosis:"), H("Discharge Diagnoses")]
    b += [P("%d. %s" % (i, x)) for i, x in enumerate(dx, 1)]
    b += [H("Hospital Course")] + [P(x) for x in course]
    if c.get("proc_name"):
        b.append(P(" " + c["proc_name"].capitalize() + " on %s." % us(d(c["proc"])), "Procedures:"))
    b += [P(" " + pick("Good", "Stable", "Improved") + ". Alert and oriented, ambulating, tolerating diet.",
            "Condition at discharge:"),
          H("Discharge Medications")]
    b.append(P("; ".join("%s %s %s" % (m[0], m[1], m[3]) for m in c["meds"]) + "."))
    b += [P(" " + fu, "Follow-up:"),
          P(" " + {"chole": "Final pathology reviewed; none pending.",
                   "appy": "Surgical pathology and peritoneal fluid culture pending; the surgery clinic will call.",
                   "ptx": "None."}[p["case"]], "Results pending at discharge:"),
          P(" Call the clinic or return to the emergency department for fever above 38.3 C, worsening "
            "pain, vomiting, redness or drainage from an incision, yellow skin or eyes, chest pain, or "
            "shortness of breath. The patient repeated these warning signs back correctly.", "Return precautions:"),
          P(" " + pick("Regular diet as tolerated.", "Heart-healthy, carbohydrate-consistent diet.") + " "
            + pick("No lifting over 10 pounds for 4 weeks.", "Activity as tolerated; walk several times a day.")
            + " Shower allowed; no tub baths until cleared.", "Instructions:"),
          P("More than 30 minutes were spent on discharge planning, reconciliation, and counseling."),
          sig(c["attending"], dd)]
    return dd, c["attending"], b


def doc_prog(p, c, variant=0):
    s, o, S, O = pron(p)
    if p["case"] == "afib":
        day = d(c["admit"]) + datetime.timedelta(days=1 + variant)
        if variant == 0:
            sub = ("Feels much better. Palpitations have eased since the diltiazem infusion was changed to oral "
                   "metoprolol. Slept with CPAP. No chest pain, dizziness, or dyspnea at rest. Tolerating diet.")
            obj = ("Telemetry shows atrial fibrillation with ventricular rates 78 to 104 overnight. "
                   + vitals() + ". Irregularly irregular rhythm, no murmur. Lungs clear. No edema.")
            ap = ("Atrial fibrillation, onset uncertain, now rate controlled. CHA2DS2-VASc score 1 (diabetes); "
                  "after shared decision making with Cardiology, start apixaban 5 mg twice daily. Transthoracic "
                  "echocardiogram today. Potassium and magnesium repleted; recheck in the morning. Continue "
                  "metformin. Anticipate discharge tomorrow if rates remain controlled.")
        else:
            sub = "Feels well and is eager to go home. No palpitations overnight."
            obj = ("Converted to sinus rhythm at 03:40 on telemetry. " + vitals() + ". Regular rhythm.")
            ap = ("Paroxysmal atrial fibrillation, now in sinus rhythm after about 36 hours. Continue metoprolol "
                  "succinate 50 mg daily and apixaban 5 mg twice daily; the bleeding risk and the reasons not to "
                  "stop the anticoagulant were reviewed with him. Echocardiogram: normal ejection fraction, mild "
                  "left atrial enlargement, no valve disease. Type 2 diabetes: resume home metformin, hemoglobin "
                  "A1c 7.9%; primary care to intensify therapy. Sleep apnea: resume nightly CPAP, sleep clinic "
                  "referral placed. Discharge today with cardiology follow-up in 2 weeks and an event monitor.")
    elif p["case"] == "appy":
        day = d(c["proc"]) + datetime.timedelta(days=1)
        sub = ("Postoperative day one after laparoscopic appendectomy. Pain 3 of 10 at the port sites, using "
               "ibuprofen and acetaminophen only. Passing flatus, tolerated clear liquids and toast. Walked the "
               "hallway three times. No nausea overnight.")
        obj = (vitals() + ". Abdomen soft, appropriately tender near the incisions, which are clean and dry with "
               "skin glue intact. White count down to 9.4 K/uL from 16.2 K/uL.")
        ap = ("Recovering as expected after appendectomy for acute suppurative appendicitis. Advance to regular "
              "diet. Stop intravenous antibiotics, no oral course needed given no perforation. Saline lock the "
              "intravenous line. Likely discharge tomorrow morning if eating well.")
    elif p["case"] == "ptx":
        day = d(c["admit"]) + datetime.timedelta(days=2)
        sub = ("Breathing easier than on admission. Mild soreness at the chest tube site. Coughing up small "
               "amounts of white sputum. Wheezing improved since starting prednisone. Using incentive spirometer "
               "to 1250 mL. Appetite is fair and he slept about five hours, waking from the coughing.")
        obj = (vitals() + ". Decreased breath sounds at both bases, scattered end-expiratory wheezes. Right "
               "14 French pigtail catheter on -20 cm water suction with a small air leak on cough only, 60 mL "
               "serosanguinous drainage in 24 hours. Chest radiograph this morning: right lung fully expanded, "
               "no residual pneumothorax, catheter tip at the apex.")
        ap = ("Right secondary spontaneous pneumothorax with chest tube in place, improving. Place the tube to "
              "water seal today and repeat chest radiograph in 4 hours; if stable and air leak resolves, clamp "
              "trial tomorrow. COPD exacerbation: continue prednisone 40 mg daily for 5 days, tiotropium, and "
              "budesonide-formoterol, albuterol as needed. Chronic kidney disease stage 3a: creatinine stable, "
              "avoid nephrotoxic medications. Deep vein thrombosis prophylaxis with subcutaneous heparin. "
              "Physical therapy evaluation for deconditioning. Discussed plan with the patient and his daughter, "
              "who agree.")
        extra = [H("Lines and Drains"),
                 P("Right pigtail chest catheter, day 3, site clean without subcutaneous emphysema. Peripheral "
                   "intravenous line left forearm, day 3, saline locked. No urinary catheter."),
                 H("Medications Reviewed"),
                 P("Prednisone 40 mg daily, tiotropium 18 mcg daily, budesonide-formoterol 2 puffs twice daily, "
                   "albuterol as needed, heparin 5000 units subcutaneous every 8 hours, tamsulosin, aspirin, "
                   "rosuvastatin, acetaminophen as needed. No opioids needed in the last 24 hours."),
                 H("Disposition"),
                 P("Remains inpatient for chest tube management. Anticipated discharge in 2 to 3 days once the "
                   "tube is removed and the follow-up chest radiograph is stable. Home oxygen needs to be "
                   "reassessed with an ambulatory saturation test before discharge.")]
    else:  # dka
        day = d(c["admit"]) + datetime.timedelta(days=1)
        sub = ("Feels hungry and much more alert. Nausea resolved. Thirst improving. Asked many good questions "
               "about insulin and diabetes.")
        obj = (vitals() + ". Mucous membranes moist. Anion gap closed at 11 at 04:00, bicarbonate 20 mmol/L, "
               "glucose 168 mg/dL. Potassium 3.8 mmol/L after replacement.")
        ap = ("Diabetic ketoacidosis resolved. Transitioned to subcutaneous insulin glargine 18 units with "
              "overlap of 2 hours before stopping the infusion; lispro with meals by carbohydrate ratio. "
              "Diabetes education sessions today and tomorrow. Peripheral access poor; PICC placement consented "
              "for planned antibiotics-free fluid and frequent blood draws, scheduled today.")
    b = [P(" %s" % (CLIN["resident"] if variant == 0 else c["attending"]), "Author:"),
         P(" " + c["service"], "Service:"), H("Subjective"), P(sub), H("Objective"), P(obj),
         H("Assessment and Plan"), P(ap)]
    if p["case"] == "ptx":
        b += extra
    b += [sig(c["attending"], day)]
    return day, c["attending"], b


def doc_cons(p, c):
    day = d(c["admit"])
    a = age(p, day)
    if p["case"] == "afib":
        who, svc = CLIN["cards"], "Cardiology"
        q = "New atrial fibrillation with rapid ventricular response; rate control and anticoagulation."
        hpi = ("Mr. Testcase is a %d-year-old man with type 2 diabetes on metformin and obstructive sleep apnea "
               "who noticed a racing, irregular heartbeat while mowing the lawn yesterday afternoon. He reports "
               "mild exertional dyspnea and fatigue but no syncope, chest pain, or neurologic symptoms. He drank "
               "more alcohol than usual at a wedding two days ago and admits to inconsistent CPAP use. The ECG "
               "in the emergency department showed atrial fibrillation at 148 beats per minute with a normal QRS. "
               "He received intravenous diltiazem with improvement of the rate to about 100." % a)
        exam = ("Irregularly irregular tachycardia, no murmur, rub, or gallop. Jugular venous pressure not elevated. "
                "Lungs clear. No peripheral edema. Neurologic examination nonfocal.")
        data = ("ECG: atrial fibrillation, rate 148, normal axis, no ST changes. Potassium 3.4 mmol/L, magnesium "
                "1.6 mg/dL, TSH 2.31 mIU/L, troponin normal. Chest radiograph without edema.")
        imp = ["Atrial fibrillation of less than 48 hours duration, likely triggered by alcohol and untreated "
               "sleep apnea. CHA2DS2-VASc score 1 for diabetes; HAS-BLED score 0.",
               "Hypokalemia and hypomagnesemia."]
        rec = ["Start metoprolol succinate 50 mg daily; stop diltiazem infusion once oral dosing is effective.",
               "Anticoagulation: reasonable to start apixaban 5 mg twice daily given planned possible "
               "cardioversion; continue for at least 4 weeks afterwards.",
               "Replete potassium to above 4.0 and magnesium to above 2.0.",
               "Transthoracic echocardiogram.",
               "Strongly encourage nightly CPAP and alcohol moderation; outpatient sleep medicine follow-up.",
               "If he remains in atrial fibrillation at 48 hours, discuss elective cardioversion after "
               "3 weeks of anticoagulation or with transesophageal echocardiogram guidance."]
    elif p["case"] == "ptx":
        who, svc = CLIN["pulm"], "Pulmonology"
        q = "Secondary spontaneous pneumothorax in severe COPD; chest tube management and recurrence prevention."
        hpi = ("Mr. Mockridge is a %d-year-old man with GOLD stage 3 COPD, a former heavy smoker, who developed "
               "sudden sharp right-sided chest pain and dyspnea while lifting groceries this morning. Chest "
               "radiograph showed a large right pneumothorax, and a 14 French pigtail catheter was placed in the "
               "emergency department with re-expansion of the lung. He uses 2 L of oxygen with exertion at home and "
               "had one COPD exacerbation requiring prednisone last spring. No prior pneumothorax." % a)
        exam = ("Thin, mildly tachypneic, speaking full sentences. Barrel chest, diminished breath sounds "
                "bilaterally with prolonged expiration and scattered wheezes. Right pigtail catheter in the "
                "fifth intercostal space, dressing clean, bubbling with cough. No subcutaneous emphysema.")
        data = ("Post-procedure radiograph: lung re-expanded, small apical residual pneumothorax. Arterial blood "
                "gas pH 7.36, pCO2 52 mmHg, pO2 61 mmHg. Spirometry from 2024: FEV1 41% of predicted.")
        imp = ["Secondary spontaneous pneumothorax due to emphysema, treated with a small-bore chest tube, "
               "with persistent air leak.", "Severe COPD with mild exacerbation.",
               "Chronic hypercapnic respiratory failure, compensated."]
        rec = ["Keep the chest tube on -20 cm water suction for 24 to 48 hours, then water seal trial.",
               "Daily chest radiograph while the tube is in place.",
               "If the air leak persists beyond 5 days, thoracic surgery referral for video-assisted "
               "thoracoscopic surgery; if he is not a candidate, consider autologous blood patch or an "
               "endobronchial valve.", "Prednisone 40 mg daily for 5 days; continue tiotropium and add "
               "budesonide-formoterol.", "Target oxygen saturation 88 to 92 percent.",
               "No air travel for at least 2 weeks after resolution; smoking abstinence reinforced.",
               "Will follow daily with you."]
    else:  # dka
        who, svc = CLIN["endo"], "Endocrinology"
        q = "New diabetes presenting in ketoacidosis; type and long-term insulin regimen."
        hpi = ("Ms. Dummerton is a %d-year-old woman with Hashimoto thyroiditis and asthma who presented with "
               "severe diabetic ketoacidosis, glucose 486 mg/dL, bicarbonate 9 mmol/L, and hemoglobin A1c of "
               "11.4%%, after a month of polyuria, polydipsia, and weight loss. She is lean, has no family history "
               "of type 2 diabetes, and her autoimmune thyroid disease raises the likelihood of autoimmune "
               "diabetes. She is on the insulin infusion with a falling anion gap." % a)
        exam = ("Thin young woman, alert, mildly dry mucous membranes. Thyroid small and firm without nodules. "
                "No acanthosis nigricans. Heart and lungs normal.")
        data = ("Anion gap 26 on admission, now 15. Beta-hydroxybutyrate 6.8 mmol/L. TSH 3.02 mIU/L on "
                "levothyroxine. GAD65 antibodies and C-peptide pending.")
        imp = ["New-onset diabetes mellitus, most consistent with type 1 (autoimmune) diabetes, presenting with "
               "diabetic ketoacidosis.", "Hashimoto thyroiditis, euthyroid on replacement."]
        rec = ["Continue the insulin infusion until the anion gap closes and she can eat; give insulin glargine "
               "0.3 units per kg, about 18 units, 2 hours before stopping the infusion.",
               "Insulin lispro with meals at 1 unit per 12 g carbohydrate plus a correction scale.",
               "Do not use metformin or other oral agents.", "Diabetes educator and dietitian visits before "
               "discharge; glucagon kit and glucose meter prescriptions.",
               "Screen for celiac disease with tissue transglutaminase IgA.",
               "Endocrinology clinic follow-up within 1 week; continuous glucose monitor to be arranged."]
    b = [P(" %s, %s" % (who, svc), "Consultant:"), P(" %s" % c["attending"], "Requesting physician:"),
         P(" " + q, "Reason for consultation:"), H("History of Present Illness"), P(hpi),
         H("Past Medical History"), P("; ".join(c["pmh"]) + "."),
         P(" " + ", ".join("%s %s" % (m[0], m[1]) for m in c["meds"][:4]) + ".", "Medications:"),
         P(" " + c["allergies"] + ".", "Allergies:"),
         H("Physical Examination"), P(vitals("afib" if p["case"] == "afib" else "adm") + ". " + exam),
         H("Data Reviewed"), P(data), H("Impression")]
    b += [P("%d. %s" % (i, x)) for i, x in enumerate(imp, 1)]
    b += [H("Recommendations")] + [P("%d. %s" % (i, x)) for i, x in enumerate(rec, 1)]
    b += [P("Thank you for this consultation. We will continue to follow. Please page with questions."),
          sig(who, day)]
    return day, who, b


def doc_consent(p, c):
    day = d(c["proc"])
    s, o, S, O = pron(p)
    if p["case"] == "appy":
        proc, doc = "Laparoscopic appendectomy, possible open appendectomy", c["attending"]
        risks = ("bleeding, infection of the wound or inside the abdomen, an abscess that may need drainage, injury "
                 "to the bowel, bladder, or blood vessels, leak from the appendix stump, hernia at an incision, "
                 "blood clots, and the need to convert to an open operation through a larger incision")
        alts = ("treatment with antibiotics alone, which avoids surgery but carries a substantial chance that "
                "appendicitis returns within a year, or no treatment, which may lead to rupture and serious "
                "infection")
        benefit = "removal of the inflamed appendix and prevention of rupture"
    else:
        proc, doc = "Peripherally inserted central catheter (PICC) placement, right or left arm", CLIN["rn"].replace(", RN", ", RN, Vascular Access Team")
        risks = ("pain or bruising at the insertion site, bleeding, infection of the skin or bloodstream, blood "
                 "clot in the arm vein, irritation of the vein, irregular heartbeat during placement, damage to a "
                 "nerve or artery, and the catheter moving out of position or breaking, which may require removal")
        alts = "repeated placement of short peripheral intravenous lines, or a central line placed in the neck"
        benefit = "reliable venous access for fluids, insulin, and blood draws during this hospitalization"
    b = [P(" " + proc + ".", "Procedure:"), P(" " + doc, "Practitioner performing the procedure:"),
         H("Statement of the Patient"),
         P("I request and authorize the practitioner named above, together with assistants and residents chosen "
           "by the practitioner, to perform the procedure named above. The nature and purpose of the procedure, "
           "the expected benefit of %s, and the reasonable alternatives have been explained to me in words I "
           "understand." % benefit),
         P("I understand that the risks include, but are not limited to, %s. I understand that rare "
           "complications may result in serious injury or death, and that no guarantee has been made to me about "
           "the result." % risks),
         P("The alternatives explained to me include %s. I have been told what may happen if I choose no "
           "treatment." % alts),
         P("If an unforeseen condition arises during the procedure, I authorize the practitioner to perform "
           "additional procedures that are necessary in their professional judgment. I consent to the "
           "administration of anesthesia or sedation as planned with the anesthesia provider, and to the "
           "transfusion of blood products if needed, unless I initial here: ______ (refuse blood)."),
         P("I consent to the disposal of any tissue removed, and to photographs for my medical record. I have "
           "had the opportunity to ask questions, and all of my questions have been answered."),
         H("Signatures"),
         P("Patient signature: ______________________   Date: %s   Time: %s" % (us(day), tm())),
         P("If the patient cannot sign, legal representative and relationship: ______________________"),
         P("Interpreter used: %s   Interpreter ID: ______" % pick("No", "No (English-speaking)")),
         P("Witness: %s   Date: %s" % (CLIN["rn"] if p["case"] == "appy" else "Wilmot Sparrowdale, RN", us(day))),
         H("Practitioner Attestation"),
         P("I have explained the procedure, benefits, risks, and alternatives to the patient, who demonstrated "
           "understanding and agreed to proceed."),
         P("Practitioner signature: ______________________   %s   Date: %s" % (doc, us(day)))]
    return day, doc, b


GEN = {"hp": doc_hp, "op": doc_op, "lab": doc_lab, "rad": doc_rad, "med": doc_med, "dc": doc_dc,
       "prog": doc_prog, "cons": doc_cons, "consent": doc_consent}

# ---------------------------------------------------------------- layout
PAGE_W, PAGE_H = 612, 792
LM, RM = 72, 540
BODY_FONT, BODY_SIZE, LEAD = "Times-Roman", 11, 13.6
MONO_SIZE, MONO_LEAD = 9.5, 11.6
BODY_BOTTOM = 84


def wrap_runs(runs, maxw):
    """Greedy wrap of [(font, text)] runs; returns list of lines, each a list of (font, text) segments."""
    words = []
    for font, text in runs:
        for i, w in enumerate(text.split(" ")):
            if w == "":
                continue
            words.append((font, w))
    lines, cur, curw = [], [], 0.0
    sp = width(" ", BODY_FONT, BODY_SIZE)
    for font, w in words:
        ww = width(w, font, BODY_SIZE)
        add = ww if not cur else sp + ww
        if cur and curw + add > maxw:
            lines.append(cur)
            cur, curw = [(font, w)], ww
        else:
            cur.append((font, w))
            curw += add
    if cur:
        lines.append(cur)
    out = []
    for ln in lines:  # merge consecutive words of the same font into segments
        segs = []
        for font, w in ln:
            if segs and segs[-1][0] == font:
                segs[-1] = (font, segs[-1][1] + " " + w)
            else:
                segs.append((font, (" " + w) if segs else w))
        out.append(segs)
    return out


def layout_items(blocks):
    """Blocks -> flat list of items (kind, height, segments) where segments = [(font, size, text)]."""
    items = []
    for blk in blocks:
        if blk[0] == "h":
            items.append(("gap", 5, None))
            items.append(("line", LEAD, [("Times-Bold", BODY_SIZE, blk[1])], "head"))
        elif blk[0] == "p":
            for segs in wrap_runs(blk[1], RM - LM):
                items.append(("line", LEAD, [(f, BODY_SIZE, t) for f, t in segs], "body"))
            items.append(("gap", 3, None))
        elif blk[0] == "t":
            items.append(("gap", 2, None))
            for ln in blk[1]:
                assert width(ln, "Courier", MONO_SIZE) <= RM - LM, ln
                items.append(("line", MONO_LEAD, [("Courier", MONO_SIZE, ln)], "table"))
            items.append(("gap", 4, None))
    return items


def paginate(items, first_top, cont_top, want_pages):
    cap_first = first_top - BODY_BOTTOM
    cap_cont = cont_top - BODY_BOTTOM
    total = sum(i[1] for i in items)
    n = max(want_pages, 1)
    while True:
        caps = [cap_first] + [cap_cont] * (n - 1)
        if total <= sum(caps) - 30 * (n - 1):
            break
        n += 1
    # balanced targets
    target = total / n
    pages, cur, h, pi = [], [], 0.0, 0
    for idx, it in enumerate(items):
        cap = caps[pi] if pi < len(caps) else cap_cont
        limit = min(cap, target * 1.05 + (cap_first - cap_cont if pi == 0 else 0) * 0.5)
        if it[0] == "gap" and not cur:
            continue
        # don't leave a heading alone at the bottom
        if cur and pi < n - 1 and (h + it[1] > limit or
                                   (it[0] == "line" and it[3] == "head" and h + it[1] + 3 * LEAD > limit)):
            pages.append(cur)
            cur, h, pi = [], 0.0, pi + 1
            if it[0] == "gap":
                continue
        cur.append(it)
        h += it[1]
    if cur:
        pages.append(cur)
    for k, pg in enumerate(pages):
        cap = cap_first if k == 0 else cap_cont
        hh = sum(i[1] for i in pg)
        assert hh <= cap + 0.01, "page overflow (%.1f > %.1f)" % (hh, cap)
    return pages


def text_of(segs):
    return "".join(t for _, _, t in segs)


class Page:
    def __init__(self):
        self.ps = []
        self.lines = []

    def text(self, x, y, font, size, s, record=True):
        self.ps.append("/%s findfont %.2f scalefont setfont %.2f %.2f moveto %s show" % (font, size, x, y, psstr(s)))
        if record:
            self.lines.append(s)

    def segs(self, x, y, segs):
        self.ps.append("%.2f %.2f moveto" % (x, y))
        for f, sz, t in segs:
            self.ps.append("/%s findfont %.2f scalefont setfont %s show" % (f, sz, psstr(t)))
        self.lines.append(text_of(segs))

    def rule(self, y, w=0.6):
        self.ps.append("%.2f setlinewidth %d %.2f moveto %d %.2f lineto stroke" % (w, LM, y, RM, y))

    def source(self):
        return ("%!PS-Adobe-3.0\n%%BoundingBox: 0 0 612 792\n%%Pages: 1\n%%Page: 1 1\n"
                "<< /PageSize [612 792] >> setpagedevice\n0 setgray\n"
                + "\n".join(self.ps) + "\nshowpage\n%%EOF\n")


def label_ps(pg, p, eps, x0, y0):
    """Patient-label sticker (2.9 x 1.25 in) with Code 128 of the MRN, placed with lower-left at x0,y0."""
    w, h = 212, 92
    name = "%s, %s" % (p["family"], p["given"])
    l2 = "MRN: %s" % p["mrn"]
    l3 = "DOB: %s   Sex: %s" % (us(d(p["dob"])), p["sex"])
    pg.ps.append("gsave %.2f %.2f translate -0.8 rotate" % (x0, y0))
    pg.ps.append("1 setgray 0 0 moveto %d 0 lineto %d %d lineto 0 %d lineto closepath fill" % (w, w, h, h))
    pg.ps.append("0 setgray 0.8 setlinewidth 0 0 moveto %d 0 lineto %d %d lineto 0 %d lineto closepath stroke"
                 % (w, w, h, h))
    pg.text(8, h - 14, "Helvetica-Bold", 10, name)
    pg.text(8, h - 26, "Helvetica", 9, l2)
    pg.text(8, h - 37, "Helvetica", 9, l3)
    body = [l for l in open(eps) if not l.startswith("%")]
    pg.ps.append("gsave 8 -8 translate 0.95 1 scale")
    pg.ps.append("".join(body))
    pg.ps.append("grestore grestore")


def render_document(p, kind, want_pages, label_eps=None, variant=0):
    loinc, tname, title = DOCTYPES[kind]
    if kind == "prog":
        day, author, blocks = doc_prog(p, CASES[p["case"]], variant)
    else:
        day, author, blocks = GEN[kind](p, CASES[p["case"]])
    for blk in blocks:
        txt = blk[1] if blk[0] == "h" else (" ".join(t for _, t in blk[1]) if blk[0] == "p" else " ".join(blk[1]))
        assert "'" not in txt and "`" not in txt, txt
    items = layout_items(blocks)
    first_top = 664 - (0 if not label_eps else 48)
    pages = paginate(items, first_top, 700, want_pages)
    n = len(pages)
    out = []
    for k, pitems in enumerate(pages):
        pg = Page()
        pg.text(LM, 748, "Helvetica-Bold", 11, FACILITY)
        pg.text(LM, 733, "Helvetica", 10, hdr(p))
        pg.rule(726)
        if k == 0:
            if label_eps:
                label_ps(pg, p, label_eps, RM - 212, 628)
            pg.text(LM, 700, "Helvetica-Bold", 14, title)
            pg.text(LM, 683, "Times-Roman", 11, "Date of service: %s" % us(day))
            y = first_top
        else:
            y = 700
        for it in pitems:
            if it[0] == "gap":
                y -= it[1]
                continue
            y -= it[1]
            pg.segs(LM, y + 3, it[2])
        pg.text(PAGE_W / 2 - width("Page %d of %d" % (k + 1, n), "Times-Roman", 10) / 2, 50,
                "Times-Roman", 10, "Page %d of %d" % (k + 1, n))
        out.append(pg)
    return dict(loinc=loinc, type_name=tname, date=day, pages=out)


# ---------------------------------------------------------------- batch plan
# (file, format, [entries]); entry = (case, kind, wanted pages, options) or "BLANK"
PLAN = [
    ("bundle-01.tif", "g4", [("chole", "hp", 2, {}), ("chole", "op", 2, {}), ("chole", "lab", 1, {}), "BLANK",
                             ("chole", "dc", 2, {}), ("chole", "med", 1, {})]),
    ("bundle-02.tif", "g4", [("afib", "prog", 1, {}), ("afib", "cons", 2, {}),
                             ("afib", "lab", 2, {"upside_down_page": 2}), ("afib", "rad", 1, {}),
                             ("afib", "med", 1, {})]),
    ("bundle-03.tif", "g4", [("appy", "hp", 2, {}), ("appy", "rad", 1, {}), ("appy", "consent", 2, {}),
                             ("appy", "op", 2, {}), ("appy", "dc", 1, {})]),
    ("bundle-04.tif", "g4", [("ptx", "dc", 2, {}), ("ptx", "rad", 1, {}),
                             ("afib", "prog", 1, {"misfiled": True, "variant": 1}),
                             ("ptx", "prog", 2, {}), ("ptx", "lab", 1, {})]),
    ("bundle-05.tif", "g4", [("dka", "hp", 2, {}), ("dka", "lab", 1, {})]),
    ("scan-0001.png", "gray", [("chole", "rad", 1, {})]),
    ("scan-0002.png", "gray", [("appy", "prog", 1, {})]),
    ("scan-0003.png", "gray", [("ptx", "cons", 2, {})]),       # continues into scan-0004.png
    ("scan-0005.png", "gray", [("dka", "cons", 2, {})]),       # continues into scan-0006.png
    ("scan-0007.png", "gray", [("dka", "prog", 1, {})]),
    ("scan-0008.png", "gray", [("dka", "consent", 1, {"label": True})]),
    ("scan-0009.png", "gray", [("dka", "med", 1, {})]),
]

SEARCH_TERMS = ["appendectomy", "metformin", "pneumothorax", "cholecystitis", "atrial fibrillation",
                "apixaban", "ketoacidosis", "cholangiogram", "emphysema", "appendicolith"]


def main():
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(os.path.join(OUT, "truth"), exist_ok=True)
    physical = []   # (file, format, Page or None, meta)
    documents = []
    docno = 0
    for fname, fmt, entries in PLAN:
        for e in entries:
            if e == "BLANK":
                physical.append(dict(file=fname, fmt=fmt, page=None, mrn=None, document=None, doc_type=None,
                                     blank=True, misfiled=False, label=False, upside=False))
                continue
            case, kind, want, opt = e
            p = PBY[case]
            eps = os.path.join(EPSDIR, p["mrn"] + ".eps") if opt.get("label") else None
            r = render_document(p, kind, want, eps, opt.get("variant", 0))
            docno += 1
            did = "D%02d" % docno
            docpages = []
            for k, pg in enumerate(r["pages"]):
                physical.append(dict(file=fname, fmt=fmt, page=pg, mrn=p["mrn"], document=did, doc_type=r["loinc"],
                                     blank=False, misfiled=bool(opt.get("misfiled")), label=bool(eps) and k == 0,
                                     upside=(opt.get("upside_down_page") == k + 1)))
                docpages.append(physical[-1])
            documents.append(dict(id=did, mrn=p["mrn"], type=r["loinc"], type_name=r["type_name"],
                                  service_date=r["date"].isoformat(), _pages=docpages,
                                  _misfiled=bool(opt.get("misfiled")), _n=len(r["pages"])))
    # single-page gray files: a gray document of n pages occupies n consecutive scan-NNNN.png files
    gray_no = 0
    counters = {}
    for ph in physical:
        if ph["fmt"] == "gray":
            gray_no += 1
            ph["file"] = "scan-%04d.png" % gray_no
        counters[ph["file"]] = counters.get(ph["file"], 0) + 1
        ph["pno"] = counters[ph["file"]]
    files = sorted(counters)
    assert [ph["file"] for ph in physical] == sorted([ph["file"] for ph in physical]), "plan not in batch order"
    # degradations
    nonblank = [ph for ph in physical if not ph["blank"]]
    noisy = set(id(x) for x in R.sample(nonblank, 9))
    manifest, pages_json = [], []
    for i, ph in enumerate(physical, 1):
        if ph["blank"]:
            skew = round(R.uniform(0.2, 0.6) * R.choice([-1, 1]), 2)
        elif R.random() < 0.85:
            skew = round(R.uniform(0.5, 3.0) * R.choice([-1, 1]), 2)
            if ph["label"]:
                skew = round(R.uniform(0.5, 1.2) * R.choice([-1, 1]), 2)
        else:
            skew = 0.0
        noise = (id(ph) in noisy) and not ph["label"]
        rot = 180 if ph["upside"] else 0
        psname = os.path.join(WORK, "p%03d.ps" % i)
        text = ""
        if ph["page"] is not None:
            with open(psname, "w") as f:
                f.write(ph["page"].source())
            text = "\n".join(ph["page"].lines)
        manifest.append("\t".join(map(str, [i, ph["file"], ph["pno"], ph["fmt"], skew, rot, int(noise),
                                            int(ph["blank"]), 1000 + i * 7 + SEED % 1000])))
        ph["skew"], ph["noise"], ph["rot"], ph["text"] = skew, noise, rot, text
        pages_json.append(dict(file=ph["file"], page=ph["pno"], mrn=ph["mrn"], document=ph["document"],
                               doc_type=ph["doc_type"], blank=ph["blank"], rotation=rot, skew_deg=skew,
                               noise=noise, label_barcode=ph["label"], misfiled=ph["misfiled"], text=text))
        if not ph["blank"]:
            stem = ph["file"].rsplit(".", 1)[0]
            with open(os.path.join(OUT, "truth", "%s-p%02d.txt" % (stem, ph["pno"])), "w") as f:
                f.write(text + "\n")
    with open(os.path.join(WORK, "manifest.tsv"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    docs_json = []
    for dct in documents:
        docs_json.append(dict(id=dct["id"], mrn=dct["mrn"], type=dct["type"], type_name=dct["type_name"],
                              service_date=dct["service_date"],
                              pages=[dict(file=x["file"], page=x["pno"]) for x in dct["_pages"]]))
    terms = {}
    for t in SEARCH_TERMS:
        terms[t] = [dict(file=x["file"], page=x["page"]) for x in pages_json if t in x["text"].lower()]
    truth = dict(
        seed=SEED,
        facility=FACILITY,
        conventions=dict(
            page="1-based page index within the file (multi-page TIFF directory index + 1)",
            mrn="identity printed in the page header (null for the blank back side)",
            doc_type="LOINC document type code of the page's document (null for the blank back side)",
            skew_deg="angle applied with ImageMagick -rotate before any 180 degree turn; positive = clockwise",
            rotation="extra rotation of the whole sheet; 180 = scanned upside down",
            noise="true if salt-and-pepper speckle was added (all pages get slight blur)",
            text="exact printed lines, top to bottom, joined with newline; the label sticker lines follow the "
                 "patient header; runs of spaces are printed as in the header format"),
        patients=[dict(mrn=p["mrn"], family=p["family"], given=p["given"], dob=p["dob"], sex=p["sex"])
                  for p in PATIENTS],
        documents=docs_json,
        pages=pages_json,
        search_terms=terms,
    )
    with open(os.path.join(OUT, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(OUT, "patients.csv"), "w") as f:
        f.write("mrn,family_name,given_name,dob,sex\n")
        for p in PATIENTS:
            f.write("%s,%s,%s,%s,%s\n" % (p["mrn"], p["family"], p["given"], p["dob"], p["sex"]))
    # summary for README and stats for the generator log
    summary = []
    for fn in files:
        phs = [x for x in pages_json if x["file"] == fn]
        fmt = "CCITT G4 bilevel TIFF" if fn.endswith(".tif") else "8-bit gray PNG"
        mrns = []
        for x in phs:
            if x["mrn"] and x["mrn"] not in mrns:
                mrns.append(x["mrn"])
        docs = []
        for x in phs:
            if x["document"] and x["document"] not in docs:
                docs.append(x["document"])
        dtxt = ", ".join("%s %s" % (dd["id"], dd["type_name"]) for dd in docs_json if dd["id"] in docs)
        defects = []
        for x in phs:
            tags = []
            if x["rotation"] == 180: tags.append("upside down")
            if x["blank"]: tags.append("blank back side")
            if x["misfiled"]: tags.append("misfiled (patient %s)" % x["mrn"])
            if x["label_barcode"]: tags.append("Code 128 label")
            if x["noise"]: tags.append("speckle")
            if tags:
                defects.append("p%d: %s" % (x["page"], ", ".join(tags)))
        names = ", ".join("%s %s" % (next(p for p in PATIENTS if p["mrn"] == m)["family"], m) for m in mrns)
        summary.append((fn, len(phs), fmt, names, dtxt, "; ".join(defects) or "skew only"))
    with open(os.path.join(WORK, "summary.json"), "w") as f:
        json.dump(summary, f)
    for x in pages_json:
        if not x["blank"]:
            body_words = len(x["text"].split())
            sys.stderr.write("%-14s p%-2d %-4s %-8s words=%d lines=%d\n" % (x["file"], x["page"], x["document"],
                                                                        x["doc_type"], body_words,
                                                                        len(x["text"].splitlines())))


main()
