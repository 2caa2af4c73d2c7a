#!/usr/bin/env python3
"""Labelled clinical documents for training and testing the document-type
classifier: many ways of writing each type (specialties, layouts, section
headings, abbreviations, with and without titles, short and long), each a
plain-text file, plus LABELS.csv rows "file,type".

    generate.py --seed N --count-per-type K [--noise P] OUTDIR

Deterministic by seed: the same seed writes the same files. Different seeds
draw different patients, clinicians, problems, wording and layouts from the
same pools, so train with one seed and test with another. Every person and
number is invented; MRNs are in the range 90000000-90009999 reserved for
test patients. Standard library only.
"""
import argparse
import datetime
import os
import random
import sys

TYPES = {
    "18842-5": "discharge summary",
    "11506-3": "progress note",
    "34117-2": "history and physical",
    "11488-4": "consult note",
    "34111-5": "emergency department note",
    "11504-8": "operative note",
    "18748-4": "imaging report",
    "11502-2": "laboratory report",
    "11526-1": "pathology report",
    "59284-0": "consent",
    "10160-0": "medication list",
    "18776-5": "plan of care",
    "51852-2": "letter",
    "other": "other",
}

R = random.Random()


def pick(seq):
    return R.choice(seq)


def maybe(p):
    return R.random() < p


def some(seq, lo, hi):
    k = min(len(seq), R.randint(lo, hi))
    return R.sample(seq, k)


# ---------------------------------------------------------------------------
# People, places, dates

GIVEN = ["Ada", "Bram", "Celia", "Dov", "Elsie", "Fenn", "Greta", "Hollis", "Ines", "Jory", "Kasia", "Lomax",
         "Mireille", "Nils", "Odile", "Pavo", "Quill", "Rosalind", "Soren", "Tamsin", "Ulric", "Vesna", "Wendell",
         "Xanthe", "Yorick", "Zelda", "Amara", "Bastian", "Corin", "Delphine", "Emrys", "Fiora", "Gideon", "Hester",
         "Ivo", "Juniper", "Kestrel", "Linnea", "Marek", "Noor", "Orla", "Piet", "Rhea", "Silas", "Thea", "Viggo"]
FAMILY = ["Ashdown", "Blenkin", "Carrow", "Dunmore", "Eskridge", "Fallowby", "Gorringe", "Hathersage", "Ilbert",
          "Jessop", "Kettleby", "Lanyon", "Marbury", "Nettlefold", "Ormerod", "Pellow", "Quenby", "Rudyard",
          "Scarth", "Tregothnan", "Underhay", "Varley", "Wragby", "Yelland", "Zouch", "Abernant", "Birtwhistle",
          "Cottesloe", "Dimmock", "Elphick", "Froggatt", "Gisburn", "Hebblethwaite", "Inchbald", "Jephcott",
          "Kilbride", "Lisle", "Mawdsley", "Nuttall", "Oakshott", "Pridmore", "Rawcliffe", "Shuttleworth"]
FACILITIES = ["Harrow Valley Medical Center", "St. Brannoc Hospital", "Lakemoor Regional Health",
              "Copperfield Community Hospital", "North Tamsin University Hospital", "Greyfriars Clinic",
              "Westbourne Family Practice", "Millbrook Surgical Associates", "Eastgate Imaging Center",
              "Pinecrest Medical Group", "Juniper Ridge Health System", "Old Quay Infirmary"]
DEPTS = ["Internal Medicine", "Cardiology", "Pulmonology", "Gastroenterology", "General Surgery", "Orthopedics",
         "Neurology", "Nephrology", "Endocrinology", "Obstetrics and Gynecology", "Pediatrics", "Oncology",
         "Family Medicine", "Psychiatry", "Urology", "Infectious Disease", "Hospital Medicine", "Geriatrics"]
STREETS = ["Mill Lane", "Orchard Road", "Quarry Hill", "Station Street", "Bishop's Walk", "Fenwick Avenue",
           "Kingfisher Close", "Tanner Row"]
TOWNS = ["Harrow Valley", "Lakemoor", "Copperfield", "Millbrook", "Eastgate", "Pinecrest", "Old Quay"]


def person():
    return pick(GIVEN), pick(FAMILY)


def doctor():
    g, f = person()
    return "%s %s, %s" % (g, f, pick(["MD", "MD", "DO", "MD, PhD", "MBBS"]))


def nurse():
    g, f = person()
    return "%s %s, %s" % (g, f, pick(["RN", "RN, BSN", "LPN", "NP", "PA-C"]))


def rdate(start=2015, end=2025):
    d0 = datetime.date(start, 1, 1)
    return d0 + datetime.timedelta(days=R.randint(0, (end - start) * 365))


def fmt_date(d):
    return d.strftime(pick(["%m/%d/%Y", "%m/%d/%Y", "%Y-%m-%d", "%d %b %Y", "%B %d, %Y", "%m-%d-%y"]))


def fmt_time():
    return pick(["%02d:%02d" % (R.randint(0, 23), R.randint(0, 59)),
                 "%d:%02d %s" % (R.randint(1, 12), R.randint(0, 59), pick(["AM", "PM"])),
                 "%02d%02d" % (R.randint(0, 23), R.randint(0, 59))])


class Patient:
    def __init__(self):
        self.given, self.family = person()
        self.sex = pick(["F", "M"])
        self.mrn = "9000%04d" % R.randint(0, 9999)
        self.dob = rdate(1930, 2020)
        self.age = R.randint(1, 95)

    def he(self):
        return "she" if self.sex == "F" else "he"

    def his(self):
        return "her" if self.sex == "F" else "his"

    def title(self):
        return "Ms." if self.sex == "F" else "Mr."

    def sexword(self):
        return pick(["woman", "female", "lady"]) if self.sex == "F" else pick(["man", "male", "gentleman"])


def header_lines(p, facility, when):
    """The many ways a page header names the patient (or does not)."""
    style = R.randint(0, 7)
    dob = p.dob.strftime("%m/%d/%Y")
    out = []
    if maybe(0.7):
        out.append(pick([facility, facility.upper(), facility + " - " + pick(DEPTS)]))
    if maybe(0.3):
        out.append("%d %s, %s" % (R.randint(2, 900), pick(STREETS), pick(TOWNS)))
    if style == 0:
        out.append("Patient: %s, %s   MRN: %s   DOB: %s" % (p.family.upper(), p.given.upper(), p.mrn, dob))
    elif style == 1:
        out.append("Name: %s %s" % (p.given, p.family))
        out.append("MRN: %s  DOB: %s  Sex: %s" % (p.mrn, dob, p.sex))
    elif style == 2:
        out.append("%s, %s  (%s)  %s  %s" % (p.family.upper(), p.given, p.sex, dob, p.mrn))
    elif style == 3:
        out.append("Patient Name: %s, %s" % (p.family, p.given))
        out.append("Medical Record #: %s" % p.mrn)
        out.append("Date of Birth: %s" % dob)
    elif style == 4:
        out.append("PT: %s %s   MR# %s   Age: %d   Acct: %d" % (p.given.upper(), p.family.upper(), p.mrn,
                                                                p.age, R.randint(1000000, 9999999)))
    elif style == 5:
        out.append("MRN %s | %s, %s | DOB %s" % (p.mrn, p.family, p.given, dob))
    elif style == 6:
        pass  # no header at all: a continuation sheet or a form
    else:
        out.append("Patient: %s %s        Unit No: %s" % (p.given, p.family, p.mrn))
    if maybe(0.4):
        out.append(pick(["Date of Service: ", "Visit Date: ", "Date: ", "Encounter: ", "DOS: "]) + fmt_date(when))
    return out


# ---------------------------------------------------------------------------
# Clinical content pools shared by every type (so words alone do not give
# the type away: a discharge summary and a progress note talk about the
# same diseases)

PROBLEMS = [
    ("atrial fibrillation with rapid ventricular response", "Cardiology", ["diltiazem", "metoprolol", "apixaban"]),
    ("acute decompensated heart failure", "Cardiology", ["furosemide", "lisinopril", "carvedilol"]),
    ("non-ST elevation myocardial infarction", "Cardiology", ["aspirin", "atorvastatin", "heparin", "clopidogrel"]),
    ("community-acquired pneumonia", "Pulmonology", ["ceftriaxone", "azithromycin"]),
    ("COPD exacerbation", "Pulmonology", ["prednisone", "albuterol", "ipratropium", "doxycycline"]),
    ("pulmonary embolism", "Pulmonology", ["enoxaparin", "apixaban"]),
    ("acute pancreatitis", "Gastroenterology", ["lactated Ringer's", "hydromorphone", "ondansetron"]),
    ("upper gastrointestinal bleed", "Gastroenterology", ["pantoprazole", "octreotide"]),
    ("acute cholecystitis", "General Surgery", ["piperacillin-tazobactam", "morphine"]),
    ("acute appendicitis", "General Surgery", ["cefoxitin", "ketorolac"]),
    ("small bowel obstruction", "General Surgery", ["ondansetron", "hydromorphone"]),
    ("left hip fracture", "Orthopedics", ["oxycodone", "enoxaparin", "acetaminophen"]),
    ("right knee osteoarthritis", "Orthopedics", ["meloxicam", "acetaminophen"]),
    ("acute ischemic stroke", "Neurology", ["aspirin", "atorvastatin", "clopidogrel"]),
    ("new-onset seizure", "Neurology", ["levetiracetam", "lorazepam"]),
    ("acute kidney injury", "Nephrology", ["normal saline", "sodium bicarbonate"]),
    ("pyelonephritis", "Infectious Disease", ["ceftriaxone", "ciprofloxacin"]),
    ("cellulitis of the left lower extremity", "Infectious Disease", ["cefazolin", "vancomycin"]),
    ("diabetic ketoacidosis", "Endocrinology", ["insulin glargine", "insulin lispro", "potassium chloride"]),
    ("type 2 diabetes mellitus, uncontrolled", "Endocrinology", ["metformin", "insulin glargine",
                                                                 "empagliflozin"]),
    ("hypertensive urgency", "Internal Medicine", ["amlodipine", "labetalol", "hydralazine"]),
    ("syncope", "Cardiology", ["normal saline"]),
    ("sepsis from urinary source", "Hospital Medicine", ["ceftriaxone", "normal saline", "norepinephrine"]),
    ("alcohol withdrawal", "Hospital Medicine", ["lorazepam", "thiamine", "folic acid"]),
    ("major depressive disorder", "Psychiatry", ["sertraline", "trazodone"]),
    ("preterm labor", "Obstetrics and Gynecology", ["nifedipine", "betamethasone", "magnesium sulfate"]),
    ("bronchiolitis", "Pediatrics", ["nasal saline", "acetaminophen"]),
    ("colon adenocarcinoma", "Oncology", ["oxaliplatin", "capecitabine", "ondansetron"]),
    ("breast mass", "Oncology", ["acetaminophen"]),
    ("kidney stone", "Urology", ["tamsulosin", "ketorolac"]),
    ("benign prostatic hyperplasia", "Urology", ["tamsulosin", "finasteride"]),
    ("chronic low back pain", "Family Medicine", ["naproxen", "cyclobenzaprine"]),
    ("hypothyroidism", "Endocrinology", ["levothyroxine"]),
    ("iron deficiency anemia", "Internal Medicine", ["ferrous sulfate"]),
    ("falls and deconditioning", "Geriatrics", ["vitamin D", "acetaminophen"]),
]

COMORBID = ["hypertension", "hyperlipidemia", "type 2 diabetes", "coronary artery disease", "obesity",
            "obstructive sleep apnea", "chronic kidney disease stage 3", "GERD", "hypothyroidism", "asthma",
            "depression", "anxiety", "osteoporosis", "atrial fibrillation", "COPD", "gout", "migraine",
            "benign prostatic hyperplasia", "peripheral neuropathy", "prior stroke"]

MEDS = [("lisinopril", "10 mg", "PO", "daily"), ("metoprolol succinate", "25 mg", "PO", "daily"),
        ("atorvastatin", "40 mg", "PO", "at bedtime"), ("metformin", "500 mg", "PO", "twice daily"),
        ("amlodipine", "5 mg", "PO", "daily"), ("levothyroxine", "75 mcg", "PO", "daily before breakfast"),
        ("omeprazole", "20 mg", "PO", "daily"), ("aspirin", "81 mg", "PO", "daily"),
        ("apixaban", "5 mg", "PO", "twice daily"), ("furosemide", "40 mg", "PO", "daily"),
        ("sertraline", "50 mg", "PO", "daily"), ("gabapentin", "300 mg", "PO", "three times daily"),
        ("insulin glargine", "20 units", "subcutaneous", "at bedtime"),
        ("albuterol inhaler", "2 puffs", "inhaled", "every 4 hours as needed"),
        ("tamsulosin", "0.4 mg", "PO", "daily"), ("acetaminophen", "650 mg", "PO", "every 6 hours as needed"),
        ("oxycodone", "5 mg", "PO", "every 4 hours as needed for pain"), ("warfarin", "5 mg", "PO", "daily"),
        ("prednisone", "40 mg", "PO", "daily for 5 days"), ("ferrous sulfate", "325 mg", "PO", "daily"),
        ("vitamin D3", "2000 units", "PO", "daily"), ("hydrochlorothiazide", "25 mg", "PO", "daily"),
        ("losartan", "50 mg", "PO", "daily"), ("carvedilol", "6.25 mg", "PO", "twice daily"),
        ("empagliflozin", "10 mg", "PO", "daily"), ("montelukast", "10 mg", "PO", "at bedtime"),
        ("trazodone", "50 mg", "PO", "at bedtime as needed"), ("docusate", "100 mg", "PO", "twice daily"),
        ("enoxaparin", "40 mg", "subcutaneous", "daily"), ("ceftriaxone", "1 g", "IV", "every 24 hours"),
        ("pantoprazole", "40 mg", "IV", "every 12 hours"), ("ondansetron", "4 mg", "IV", "every 6 hours as needed"),
        ("cephalexin", "500 mg", "PO", "four times daily"), ("clopidogrel", "75 mg", "PO", "daily"),
        ("fluticasone nasal spray", "2 sprays", "each nostril", "daily"), ("allopurinol", "100 mg", "PO", "daily")]

ALLERGIES = ["No known drug allergies", "NKDA", "Penicillin (rash)", "Sulfa drugs (hives)", "Codeine (nausea)",
             "Iodinated contrast (itching)", "Latex", "Shellfish", "Lisinopril (angioedema)", "None known"]

SURGERIES = ["appendectomy", "cholecystectomy", "total knee arthroplasty", "cesarean section", "tonsillectomy",
             "hernia repair", "coronary artery bypass grafting", "hysterectomy", "cataract extraction",
             "carpal tunnel release", "lumbar laminectomy", "none"]

SYMPTOMS = ["chest pain", "shortness of breath", "abdominal pain", "nausea and vomiting", "fever and chills",
            "dizziness", "palpitations", "cough", "weakness", "headache", "back pain", "leg swelling",
            "confusion", "dysuria", "diarrhea", "fatigue", "syncope", "a fall at home", "right upper quadrant pain",
            "wheezing", "blurred vision", "numbness of the left arm"]

EXAM = {
    "General": ["alert, oriented, in no acute distress", "appears uncomfortable", "well appearing",
                "ill appearing, diaphoretic", "frail elderly, resting in bed"],
    "HEENT": ["normocephalic, atraumatic, mucous membranes moist", "PERRL, EOMI, oropharynx clear",
              "dry mucous membranes", "anicteric sclerae"],
    "Neck": ["supple, no JVD", "no lymphadenopathy", "JVP elevated to 10 cm"],
    "Cardiovascular": ["regular rate and rhythm, no murmurs", "irregularly irregular, tachycardic",
                       "S1 S2 normal, 2/6 systolic murmur at the apex", "RRR, no rubs or gallops"],
    "Lungs": ["clear to auscultation bilaterally", "crackles at both bases", "diffuse expiratory wheezes",
              "decreased breath sounds on the right", "good air entry, no respiratory distress"],
    "Abdomen": ["soft, non-tender, non-distended", "tender in the right upper quadrant with guarding",
                "bowel sounds present", "mild epigastric tenderness", "distended, tympanitic"],
    "Extremities": ["no edema", "2+ pitting edema to the knees", "warm and well perfused",
                    "left leg erythematous and warm"],
    "Neuro": ["grossly non-focal", "CN II-XII intact, strength 5/5 throughout", "left facial droop",
              "alert and oriented x3"],
    "Skin": ["no rashes", "warm and dry", "surgical incision clean, dry and intact"],
    "Psych": ["mood and affect appropriate", "anxious", "flat affect"],
}

LABS = [("WBC", "K/uL", 4.0, 11.0), ("Hemoglobin", "g/dL", 12.0, 16.0), ("Hematocrit", "%", 36.0, 46.0),
        ("Platelets", "K/uL", 150, 400), ("Sodium", "mmol/L", 135, 145), ("Potassium", "mmol/L", 3.5, 5.1),
        ("Chloride", "mmol/L", 98, 107), ("CO2", "mmol/L", 22, 29), ("BUN", "mg/dL", 7, 20),
        ("Creatinine", "mg/dL", 0.6, 1.2), ("Glucose", "mg/dL", 70, 99), ("Calcium", "mg/dL", 8.5, 10.2),
        ("AST", "U/L", 10, 40), ("ALT", "U/L", 7, 56), ("Alkaline phosphatase", "U/L", 44, 147),
        ("Total bilirubin", "mg/dL", 0.1, 1.2), ("Albumin", "g/dL", 3.5, 5.0), ("Lipase", "U/L", 0, 160),
        ("Troponin I", "ng/mL", 0.0, 0.04), ("BNP", "pg/mL", 0, 100), ("INR", "", 0.8, 1.2),
        ("PT", "sec", 11.0, 13.5), ("PTT", "sec", 25, 35), ("Magnesium", "mg/dL", 1.7, 2.2),
        ("Phosphorus", "mg/dL", 2.5, 4.5), ("TSH", "uIU/mL", 0.4, 4.0), ("Hemoglobin A1c", "%", 4.0, 5.6),
        ("LDL cholesterol", "mg/dL", 0, 100), ("HDL cholesterol", "mg/dL", 40, 60),
        ("Triglycerides", "mg/dL", 0, 150), ("Lactate", "mmol/L", 0.5, 2.0), ("CRP", "mg/L", 0, 10),
        ("Ferritin", "ng/mL", 30, 400), ("Vitamin B12", "pg/mL", 200, 900), ("Urine specific gravity", "",
                                                                            1.005, 1.030)]
PANELS = {
    "Complete Blood Count": ["WBC", "Hemoglobin", "Hematocrit", "Platelets"],
    "Basic Metabolic Panel": ["Sodium", "Potassium", "Chloride", "CO2", "BUN", "Creatinine", "Glucose",
                              "Calcium"],
    "Hepatic Function Panel": ["AST", "ALT", "Alkaline phosphatase", "Total bilirubin", "Albumin"],
    "Coagulation": ["PT", "INR", "PTT"],
    "Lipid Panel": ["LDL cholesterol", "HDL cholesterol", "Triglycerides"],
    "Cardiac Markers": ["Troponin I", "BNP"],
    "Thyroid": ["TSH"],
    "Miscellaneous Chemistry": ["Magnesium", "Phosphorus", "Lactate", "CRP", "Ferritin", "Vitamin B12",
                                "Hemoglobin A1c", "Lipase"],
}


def vitals_line():
    parts = ["BP %d/%d" % (R.randint(90, 190), R.randint(50, 110)), "HR %d" % R.randint(48, 140),
             "RR %d" % R.randint(12, 28), "T %.1f" % R.uniform(36.1, 39.4) if maybe(0.5) else
             "Temp %.1f F" % R.uniform(97.0, 102.8), "SpO2 %d%% on %s" % (R.randint(86, 100),
                                                                          pick(["room air", "2 L NC", "RA",
                                                                                "4 L nasal cannula"]))]
    if maybe(0.4):
        parts.append("Wt %.1f kg" % R.uniform(40, 140))
    sep = pick([", ", "  ", "; ", " | "])
    return sep.join(parts)


def exam_lines(full=True):
    systems = list(EXAM)
    if not full:
        systems = some(systems, 3, 6)
    style = R.randint(0, 2)
    out = []
    for s in systems:
        name = {"Cardiovascular": pick(["Cardiovascular", "CV", "Heart", "Cardiac"]),
                "Lungs": pick(["Lungs", "Resp", "Chest", "Pulmonary"]),
                "Abdomen": pick(["Abdomen", "Abd", "GI"]),
                "Extremities": pick(["Extremities", "Ext"]),
                "Neuro": pick(["Neuro", "Neurologic"]), }.get(s, s)
        v = pick(EXAM[s])
        out.append(("%s: %s" if style < 2 else "%s - %s") % (name, v))
    if style == 1:
        return [". ".join(out) + "."]
    return out


def lab_value(name):
    for n, unit, lo, hi in LABS:
        if n == name:
            span = hi - lo if hi > lo else 1
            v = R.uniform(lo - 0.4 * span, hi + 0.6 * span)
            if v < 0:
                v = lo
            flag = "H" if v > hi else "L" if v < lo else ""
            if hi >= 100:
                vs = "%d" % round(v)
                ref = "%d-%d" % (lo, hi)
            elif hi >= 10:
                vs = "%.1f" % v
                ref = "%.1f-%.1f" % (lo, hi)
            else:
                vs = "%.2f" % v
                ref = "%.2f-%.2f" % (lo, hi)
            return vs, unit, ref, flag
    return "", "", "", ""


def lab_summary():
    names = some([n for n, _, _, _ in LABS], 3, 8)
    parts = []
    for n in names:
        v, u, _, _ = lab_value(n)
        parts.append("%s %s" % (pick([n, n.lower()]), v))
    return pick(["Labs: ", "Labs notable for ", "Pertinent labs: ", "Laboratory data: "]) + ", ".join(parts) + "."


def med_phrase(m):
    name, dose, route, freq = m
    return pick(["%s %s %s %s" % (name, dose, route, freq), "%s %s %s" % (name, dose, freq),
                 "%s %s" % (name.capitalize(), dose)])


def heading(name, style):
    """Section headings: upper case, title case, with or without colons."""
    if style == 0:
        return name.upper() + ":"
    if style == 1:
        return name + ":"
    if style == 2:
        return name.upper()
    return "** " + name + " **" if maybe(0.2) else name.title() + ":"


def sentence_join(parts):
    return " ".join(p.strip() for p in parts if p)


def hpi(p, prob, sym=None):
    sym = sym or pick(SYMPTOMS)
    days = R.randint(1, 14)
    return sentence_join([
        pick(["%s is a %d-year-old %s" % (p.title() + " " + p.family, p.age, p.sexword()),
              "The patient is a %d yo %s" % (p.age, p.sexword()),
              "%d y/o %s" % (p.age, p.sex),
              "This is a %d-year-old %s" % (p.age, p.sexword())]),
        pick(["with a history of %s" % ", ".join(some(COMORBID, 1, 4)),
              "with PMH significant for %s" % " and ".join(some(COMORBID, 1, 3)),
              "with no significant past medical history"]),
        pick(["who presents with %s for %d days." % (sym, days),
              "presenting with %d days of %s." % (days, sym),
              "who comes in complaining of %s since %s." % (sym, pick(["yesterday", "this morning",
                                                                       "last week", "two days ago"])),
              "referred for evaluation of %s." % sym]),
        pick(["%s reports %s." % (p.he().capitalize(), pick(SYMPTOMS)),
              "%s denies %s." % (p.he().capitalize(), " or ".join(some(SYMPTOMS, 1, 3))),
              "Symptoms worsened over the past %d hours." % R.randint(6, 72),
              "No recent travel or sick contacts.", ""]),
        pick(["Workup was concerning for %s." % prob, "Initial evaluation suggested %s." % prob,
              "", "There is concern for %s." % prob]),
    ])


# ---------------------------------------------------------------------------
# Titles: some match the title rules, many do not (the model must do the
# work when a document has no recognisable title or none at all)

TITLES = {
    "18842-5": ["DISCHARGE SUMMARY", "Discharge Summary", "DISCHARGE NOTE", "Hospital Discharge Summary",
                "Discharge Instructions and Summary", "DISCHARGE SUMMARY - FINAL", "Summary of Hospitalization",
                "Transfer/Discharge Summary", "Hospital Course Summary"],
    "11506-3": ["PROGRESS NOTE", "Progress Note", "Daily Progress Note", "SOAP NOTE", "Interval Note",
                "Hospitalist Progress Note", "Follow-up Visit", "Office Visit", "Clinic Note",
                "Return Visit Note", "Post-op Day %d Note" % R.randint(1, 4), "Daily Note"],
    "34117-2": ["HISTORY AND PHYSICAL", "History & Physical", "H&P", "ADMISSION H&P", "Admission Note",
                "Admission History and Physical Examination", "Initial Hospital Evaluation",
                "Pre-operative History and Physical", "Admitting Note"],
    "11488-4": ["CONSULTATION", "Consultation Note", "CONSULT NOTE", "Inpatient Consultation",
                "%s Consultation" % pick(DEPTS), "Consult Request and Report", "Specialty Consultation",
                "New Patient Consultation", "Initial Consult"],
    "34111-5": ["EMERGENCY DEPARTMENT NOTE", "ED Note", "Emergency Department Record", "EMERGENCY ROOM REPORT",
                "ED Physician Documentation", "Emergency Visit", "ED Provider Note", "Urgent Care Visit"],
    "11504-8": ["OPERATIVE REPORT", "Operative Note", "OPERATIVE NOTE", "Brief Op Note", "Procedure Note",
                "Surgical Report", "Operation Report", "Report of Operation", "Surgeon's Note"],
    "18748-4": ["RADIOLOGY REPORT", "Diagnostic Imaging Report", "CT REPORT", "MRI REPORT", "X-RAY REPORT",
                "Ultrasound Report", "IMAGING REPORT", "Radiology Consultation", "Final Report"],
    "11502-2": ["LABORATORY REPORT", "Lab Results", "LAB REPORT", "Clinical Laboratory", "Chemistry Report",
                "Cumulative Results", "Laboratory Results", "Hematology Report", "Test Results"],
    "11526-1": ["PATHOLOGY REPORT", "Surgical Pathology Report", "SURGICAL PATHOLOGY", "Cytology Report",
                "Pathology Consultation", "Tissue Examination Report", "Anatomic Pathology"],
    "59284-0": ["CONSENT FOR PROCEDURE", "Informed Consent", "CONSENT TO OPERATION", "Consent for Anesthesia",
                "Authorization for Procedure", "Consent for Blood Transfusion", "Patient Consent Form",
                "Agreement to Treatment", "Permission for Surgery"],
    "10160-0": ["MEDICATION LIST", "Medication Reconciliation", "Home Medications", "Current Medications",
                "MEDICATIONS LIST", "Active Medication List", "Medication Administration Summary",
                "Discharge Medication List", "Outpatient Prescriptions"],
    "18776-5": ["PLAN OF CARE", "Care Plan", "Nursing Care Plan", "Interdisciplinary Plan of Care",
                "Individualized Care Plan", "Treatment Plan", "Care Coordination Plan", "Goals of Care Plan"],
    "51852-2": ["CORRESPONDENCE", "Referral Letter", "LETTER", "", "", ""],
    "other": ["", "FAX", "Statement", "Patient Registration", "Appointment Reminder", "Authorization Request",
              "Notice", "Form"],
}


def title_line(code):
    t = pick(TITLES[code])
    if t and maybe(0.25):
        t = t.upper()
    return t


# ---------------------------------------------------------------------------
# One writer per type. Each returns a list of lines (the body); common
# framing (header, title, signature, footer) is added by compose().

def w_discharge(p, c):
    prob, dept, drugs = c["problem"]
    adm = c["date"] - datetime.timedelta(days=R.randint(1, 12))
    hs = R.randint(0, 3)
    lines = []
    if maybe(0.8):
        lines.append("Admission Date: %s    Discharge Date: %s" % (fmt_date(adm), fmt_date(c["date"])))
    if maybe(0.5):
        lines.append("Attending: %s" % c["doctor"])
    lines.append(heading(pick(["Admitting Diagnosis", "Reason for Admission", "Admission Diagnosis"]), hs))
    lines.append(prob.capitalize())
    lines.append(heading(pick(["Discharge Diagnoses", "Final Diagnoses", "Principal Diagnosis",
                               "Diagnoses at Discharge"]), hs))
    for i, d in enumerate([prob] + some(COMORBID, 1, 4)):
        lines.append(pick(["%d. %s" % (i + 1, d.capitalize()), "- " + d, d.capitalize()]))
    lines.append(heading(pick(["Hospital Course", "Brief Hospital Course", "Summary of Hospital Stay",
                               "Course in Hospital"]), hs))
    course = [hpi(p, prob),
              pick(["%s was admitted to the %s service" % (p.he().capitalize(), dept.lower()),
                    "The patient was admitted to %s" % pick(["the floor", "telemetry", "the ICU",
                                                               "the step-down unit"])]) +
              " and started on %s." % " and ".join(drugs),
              pick(["%s improved steadily over the next %d days." % (p.he().capitalize(), R.randint(2, 6)),
                    "The hospital course was complicated by %s, which resolved." % pick(
                        ["delirium", "hypokalemia", "a urinary tract infection", "constipation",
                         "atrial fibrillation", "acute kidney injury"]),
                    "Symptoms resolved and %s tolerated a regular diet." % p.he()]),
              pick(["%s was seen by %s, who recommended %s." % (p.he().capitalize(), pick(DEPTS).lower(),
                                                               pick(["outpatient follow-up",
                                                                     "continuing current therapy",
                                                                     "repeat imaging in 6 weeks"])),
                    "Physical therapy evaluated the patient and recommended %s." % pick(
                        ["home with home health", "discharge to a skilled nursing facility",
                         "home without services"]), ""]),
              lab_summary() if maybe(0.5) else ""]
    lines.extend(para(sentence_join(course)))
    if maybe(0.5):
        lines.append(heading(pick(["Procedures", "Procedures Performed", "Operations/Procedures"]), hs))
        lines.append(pick(["None.", pick(SURGERIES).capitalize() + " on " + fmt_date(adm + datetime.timedelta(1)),
                           "Echocardiogram, CT abdomen and pelvis", "Upper endoscopy"]))
    lines.append(heading(pick(["Condition at Discharge", "Discharge Condition"]), hs))
    lines.append(pick(["Stable.", "Good.", "Improved, hemodynamically stable.", "Fair."]))
    lines.append(heading(pick(["Discharge Medications", "Medications at Discharge", "Discharge Meds",
                               "Medication Changes"]), hs))
    for m in some(MEDS, 2, 8):
        lines.append(pick(["- ", "", "* "]) + med_phrase(m))
    lines.append(heading(pick(["Disposition", "Discharged To", "Discharge Disposition"]), hs))
    lines.append(pick(["Home.", "Home with home health services.", "Skilled nursing facility.",
                       "Inpatient rehabilitation.", "Home with family."]))
    lines.append(heading(pick(["Follow-up", "Follow Up Appointments", "Follow-up Instructions"]), hs))
    lines.append(pick(["Primary care physician in 1 week.", "Follow up with %s in %d weeks." % (
        c["doctor2"], R.randint(1, 6)), "%s clinic in 2 weeks; labs in 1 week." % pick(DEPTS)]))
    if maybe(0.6):
        lines.append(heading(pick(["Diet", "Activity", "Patient Instructions", "Discharge Instructions"]), hs))
        lines.append(pick(["Regular diet. Activity as tolerated.", "Low sodium diet, 2 g daily. Weigh daily.",
                           "Return to the emergency department for fever, chest pain or shortness of breath.",
                           "Diabetic diet. No driving while taking opioid pain medication."]))
    if maybe(0.3):
        lines.append(heading("Pending Results", hs))
        lines.append(pick(["Blood cultures pending at discharge.", "None.", "Final pathology pending."]))
    return lines


def w_progress(p, c):
    prob, dept, drugs = c["problem"]
    lines = []
    style = R.randint(0, 2)
    hs = R.randint(0, 3)
    if style == 0:  # inpatient SOAP
        if maybe(0.6):
            lines.append(pick(["Hospital Day %d" % R.randint(2, 12), "HD #%d" % R.randint(2, 12),
                               "POD %d" % R.randint(1, 5), "Day %d of admission" % R.randint(2, 9)]))
        lines.append(heading(pick(["Subjective", "S", "Interval History", "Overnight Events"]), hs))
        lines.extend(para(sentence_join([
            pick(["No acute events overnight.", "Patient reports feeling %s today." % pick(
                ["better", "about the same", "worse", "tired but improved"]),
                "Overnight %s." % pick(["had one episode of emesis", "slept well", "required PRN pain medication",
                                       "spiked a fever to 38.6"])]),
            pick(["%s denies %s." % (p.he().capitalize(), " or ".join(some(SYMPTOMS, 1, 3))),
                  "Tolerating diet.", "Ambulating with physical therapy.", "Pain controlled."])])))
        lines.append(heading(pick(["Objective", "O", "Exam", "Physical Exam"]), hs))
        lines.append(pick(["Vitals: ", "VS: ", "Vital signs: ", ""]) + vitals_line())
        if maybe(0.5):
            lines.append("I/O: %d/%d" % (R.randint(500, 3000), R.randint(300, 3500)))
        lines.extend(exam_lines(full=False))
        if maybe(0.7):
            lines.extend(para(lab_summary()))
        lines.append(heading(pick(["Assessment and Plan", "A/P", "Assessment & Plan", "Assessment/Plan",
                                   "Impression and Plan"]), hs))
        lines.append("%d yo %s with %s, %s." % (p.age, p.sex, prob, pick(["improving", "stable",
                                                                          "slowly improving",
                                                                          "not yet at baseline"])))
        for i, d in enumerate([prob] + some(COMORBID, 1, 3)):
            lines.append(pick(["#%d %s: " % (i + 1, d), "%d. %s - " % (i + 1, d.capitalize()), "# " + d + ": "]) +
                         pick(["continue %s." % pick(drugs), "monitor.", "continue home regimen.",
                               "recheck labs in the morning.", "wean oxygen as tolerated.",
                               "advance diet.", "PT/OT evaluation."]))
        if maybe(0.5):
            lines.append(pick(["Dispo: anticipate discharge in %d-%d days." % (1, 3),
                               "Disposition: continue inpatient care.", "Code status: full code.",
                               "DVT prophylaxis: enoxaparin."]))
    elif style == 1:  # outpatient follow-up
        lines.append(heading(pick(["Reason for Visit", "Chief Complaint", "CC"]), hs))
        lines.append(pick(["Follow-up of %s." % prob, "%d-week follow-up." % R.randint(2, 12),
                           "Routine follow-up, medication refill.", "Recheck %s." % pick(COMORBID)]))
        lines.append(heading(pick(["Interval History", "History of Present Illness", "HPI"]), hs))
        lines.extend(para(sentence_join([
            "Since the last visit %s reports %s." % (p.he(), pick(["no new complaints", "improved symptoms",
                                                                 "occasional %s" % pick(SYMPTOMS),
                                                                 "good adherence to medications"])),
            pick(["Home blood pressures in the 130s.", "Blood sugars running 120-180.",
                  "Weight down %d pounds." % R.randint(2, 15), "", "Taking all medications as prescribed."])])))
        lines.append(heading(pick(["Medications", "Current Medications"]), hs))
        lines.append(", ".join(med_phrase(m) for m in some(MEDS, 2, 5)))
        lines.append(heading(pick(["Exam", "Physical Examination"]), hs))
        lines.append(vitals_line())
        lines.extend(exam_lines(full=False))
        lines.append(heading(pick(["Assessment", "Impression", "Assessment and Plan"]), hs))
        lines.extend(para("%s, %s. %s" % (prob.capitalize(), pick(["stable", "improving", "suboptimally controlled"]),
                                          pick(["Continue current medications.",
                                                "Increase %s." % pick(drugs),
                                                "Check labs today and return in 3 months.",
                                                "Referral placed to %s." % pick(DEPTS)]))))
        if maybe(0.6):
            lines.append(heading(pick(["Plan", "Follow-up"]), hs))
            lines.append(pick(["Return in %d months." % R.randint(1, 6), "RTC 4 weeks.",
                               "Follow up sooner as needed."]))
    else:  # brief narrative note
        lines.extend(para(sentence_join([
            "Seen and examined at bedside." if maybe(0.5) else "Patient seen in clinic today.",
            hpi(p, prob) if maybe(0.4) else "",
            "Vital signs: " + vitals_line() + ".",
            "Exam: " + "; ".join(exam_lines(full=False)) + ".",
            lab_summary() if maybe(0.5) else "",
            "Assessment: %s, %s." % (prob, pick(["improving", "stable", "unchanged"])),
            "Plan: " + pick(["continue %s" % pick(drugs), "continue current management",
                             "repeat labs tomorrow", "increase diuresis"]) + "; " +
            pick(["discussed with the patient and family.", "will reassess tomorrow.",
                  "plan discussed with nursing."])])))
    return lines


def w_hp(p, c):
    prob, dept, drugs = c["problem"]
    hs = R.randint(0, 3)
    lines = []
    lines.append(heading(pick(["Chief Complaint", "CC", "Reason for Admission"]), hs))
    lines.append(pick(SYMPTOMS).capitalize() + ".")
    lines.append(heading(pick(["History of Present Illness", "HPI", "History of Present Illness (HPI)"]), hs))
    lines.extend(para(hpi(p, prob)))
    if maybe(0.5):
        lines.extend(para(sentence_join(["In the emergency department, vital signs were " + vitals_line() + ".",
                                         lab_summary(), "%s was given %s." % (p.he().capitalize(),
                                                                             " and ".join(drugs[:2]))])))
    lines.append(heading(pick(["Past Medical History", "PMH", "Medical History"]), hs))
    for d in some(COMORBID, 1, 6):
        lines.append(pick(["- ", "", "* "]) + d)
    lines.append(heading(pick(["Past Surgical History", "PSH", "Surgical History"]), hs))
    lines.append(", ".join(some(SURGERIES, 1, 3)))
    lines.append(heading(pick(["Medications", "Home Medications", "Medications Prior to Admission"]), hs))
    for m in some(MEDS, 1, 6):
        lines.append(pick(["- ", "", "* "]) + med_phrase(m))
    lines.append(heading("Allergies", hs))
    lines.append(pick(ALLERGIES))
    lines.append(heading(pick(["Social History", "SH", "Social"]), hs))
    lines.append(pick(["Lives with %s. %s. %s." % (pick(["spouse", "daughter", "alone", "partner"]),
                                                   pick(["Never smoker", "Former smoker, quit 10 years ago",
                                                         "Smokes 1 pack per day", "20 pack-year history"]),
                                                   pick(["Drinks alcohol socially", "No alcohol",
                                                         "Denies illicit drug use"])),
                       "Retired %s. Independent in ADLs." % pick(["teacher", "farmer", "nurse", "machinist"]),
                       "Tobacco: denies. EtOH: occasional. Drugs: none."]))
    lines.append(heading(pick(["Family History", "FH"]), hs))
    lines.append(pick(["Mother with %s; father with %s." % (pick(COMORBID), pick(COMORBID)),
                       "Noncontributory.", "No family history of early coronary disease or cancer."]))
    lines.append(heading(pick(["Review of Systems", "ROS"]), hs))
    lines.append(pick(["A complete 12-point review of systems was negative except as noted in the HPI.",
                       "Constitutional: %s. Respiratory: %s. GI: %s." % (
                           pick(["no fevers", "positive for fatigue"]), pick(["no cough", "dyspnea on exertion"]),
                           pick(["no nausea", "positive for abdominal pain"])),
                       "Negative except per HPI."]))
    lines.append(heading(pick(["Physical Examination", "Physical Exam", "PE", "Exam"]), hs))
    lines.append(pick(["Vitals: ", "VS: ", ""]) + vitals_line())
    lines.extend(exam_lines(full=True))
    if maybe(0.6):
        lines.append(heading(pick(["Laboratory Data", "Labs", "Data"]), hs))
        lines.extend(para(lab_summary()))
    lines.append(heading(pick(["Assessment and Plan", "Assessment/Plan", "Impression and Plan", "A/P"]), hs))
    lines.extend(para("%d-year-old %s admitted with %s. %s" % (p.age, p.sexword(), prob, pick(
        ["Admit to %s. Start %s." % (pick(["medicine", "telemetry", "the ICU", dept.lower()]), " and ".join(drugs)),
         "Will treat with %s and monitor closely." % ", ".join(drugs),
         "Plan for %s in the morning." % pick(SURGERIES[:-1])]))))
    if maybe(0.6):
        lines.append(pick(["DVT prophylaxis: heparin subcutaneous.", "Code status: Full code.",
                           "Code status: DNR/DNI, confirmed with the patient.", "Diet: NPO after midnight."]))
    return lines


def w_consult(p, c):
    prob, dept, drugs = c["problem"]
    hs = R.randint(0, 3)
    lines = []
    lines.append(pick(["Requesting physician: ", "Referring provider: ", "Consult requested by: ",
                       "Referred by: "]) + c["doctor2"])
    lines.append(pick(["Consulting service: ", "Service: ", "Specialty: "]) + dept)
    lines.append(heading(pick(["Reason for Consultation", "Reason for Consult", "Question"]), hs))
    lines.append(pick(["Evaluation and management of %s." % prob, "Please evaluate for %s." % prob,
                       "Recommendations regarding %s." % prob, "%s, please advise." % prob.capitalize()]))
    if maybe(0.6):
        lines.append(pick(["Thank you for asking us to see this patient.",
                           "Thank you for this interesting consultation.",
                           "I was asked to see %s %s in consultation." % (p.title(), p.family)]))
    lines.append(heading(pick(["History of Present Illness", "HPI", "History"]), hs))
    lines.extend(para(hpi(p, prob)))
    if maybe(0.6):
        lines.append(heading(pick(["Past Medical History", "PMH"]), hs))
        lines.append(", ".join(some(COMORBID, 1, 5)))
        lines.append(heading(pick(["Medications", "Current Medications"]), hs))
        lines.append(", ".join(med_phrase(m) for m in some(MEDS, 1, 5)))
        lines.append(heading("Allergies", hs) + (" " + pick(ALLERGIES) if hs < 2 else ""))
    lines.append(heading(pick(["Physical Examination", "Exam", "Focused Exam"]), hs))
    lines.append(vitals_line())
    lines.extend(exam_lines(full=maybe(0.5)))
    if maybe(0.6):
        lines.extend(para(lab_summary()))
    lines.append(heading(pick(["Impression", "Assessment", "Impression and Recommendations", "Assessment"]), hs))
    lines.extend(para("%d-year-old %s with %s%s." % (p.age, p.sexword(), prob, pick(
        ["", ", likely secondary to %s" % pick(COMORBID), " in the setting of %s" % pick(COMORBID)]))))
    lines.append(heading(pick(["Recommendations", "Recs", "Plan", "Recommendations"]), hs))
    recs = ["Start %s." % pick(drugs), "Continue %s." % pick(drugs), "Obtain %s." % pick(
        ["an echocardiogram", "CT of the abdomen", "MRI of the brain", "a lipid panel", "blood cultures x2"]),
            "Check %s in the morning." % pick(["a BMP", "CBC", "troponin", "magnesium"]),
            "Would avoid %s." % pick(["NSAIDs", "nephrotoxic agents", "beta blockers for now"]),
            "Outpatient follow-up in %s clinic in %d weeks." % (dept.lower(), R.randint(1, 6))]
    for i, r in enumerate(some(recs, 2, 5)):
        lines.append(pick(["%d. " % (i + 1), "- ", ""]) + r)
    lines.append(pick(["We will follow along with you.", "Will continue to follow.",
                       "Please call with questions.", "Thank you for this consult; we will sign off.",
                       "Discussed with the primary team."]))
    return lines


def w_ed(p, c):
    prob, dept, drugs = c["problem"]
    hs = R.randint(0, 3)
    lines = []
    lines.append(pick(["Time seen: ", "Arrival: ", "Triage time: ", "Seen at "]) + fmt_time())
    if maybe(0.6):
        lines.append(pick(["ESI Level: %d" % R.randint(1, 5), "Triage acuity %d" % R.randint(1, 5),
                           "Mode of arrival: %s" % pick(["ambulance", "walk-in", "EMS", "private vehicle"])]))
    lines.append(heading(pick(["Chief Complaint", "CC", "Presenting Complaint"]), hs))
    sym = pick(SYMPTOMS)
    lines.append(sym.capitalize())
    lines.append(heading(pick(["HPI", "History of Present Illness"]), hs))
    lines.extend(para(hpi(p, prob, sym)))
    if maybe(0.5):
        lines.append(heading(pick(["ROS", "Review of Systems"]), hs))
        lines.append("Negative except as per HPI.")
    lines.append(heading(pick(["Physical Exam", "Exam", "PE"]), hs))
    lines.append(pick(["Triage vitals: ", "Vitals: ", "VS: "]) + vitals_line())
    lines.extend(exam_lines(full=maybe(0.5)))
    lines.append(heading(pick(["ED Course", "Emergency Department Course", "Course", "Medical Decision Making"]),
                         hs))
    lines.extend(para(sentence_join([
        pick(["Patient was placed on the monitor.", "IV access obtained.", "ECG showed %s." % pick(
            ["sinus rhythm", "atrial fibrillation at 130", "no acute ST changes", "sinus tachycardia"])]),
        lab_summary() if maybe(0.7) else "",
        pick(["%s showed %s." % (pick(["Chest x-ray", "CT head", "CT abdomen/pelvis", "Bedside ultrasound"]),
                                 pick(["no acute findings", "a right lower lobe infiltrate",
                                       "findings consistent with %s" % prob])), ""]),
        "Given %s." % " and ".join(some(drugs + ["ondansetron", "normal saline bolus", "morphine"], 1, 3)),
        pick(["Symptoms improved.", "Reassessed, resting comfortably.", "Patient remains symptomatic."]),
        pick(["Differential includes %s, %s and %s." % (prob, pick(COMORBID), pick(SYMPTOMS)), ""])])))
    lines.append(heading(pick(["Disposition", "Dispo", "Clinical Impression", "Diagnosis"]), hs))
    lines.append(pick(["Admitted to %s for %s." % (pick(["medicine", "surgery", "the ICU", "observation"]), prob),
                       "Discharged home in stable condition. Return precautions given.",
                       "Impression: %s. Disposition: home with outpatient follow-up." % prob,
                       "Transferred to %s for %s evaluation." % (pick(FACILITIES), dept.lower())]))
    if maybe(0.4):
        lines.append(pick(["Patient instructed to return for worsening symptoms.",
                           "Follow up with primary care within 48 hours.",
                           "Work note provided."]))
    return lines


PROCEDURES = [("laparoscopic cholecystectomy", "acute cholecystitis", "gallbladder"),
              ("laparoscopic appendectomy", "acute appendicitis", "appendix"),
              ("open reduction and internal fixation, left hip", "left femoral neck fracture", "none"),
              ("right total knee arthroplasty", "right knee osteoarthritis", "bone fragments"),
              ("exploratory laparotomy with small bowel resection", "small bowel obstruction",
               "segment of small bowel"),
              ("right hemicolectomy", "colon adenocarcinoma", "right colon"),
              ("left inguinal hernia repair with mesh", "left inguinal hernia", "hernia sac"),
              ("cystoscopy with ureteral stent placement", "obstructing kidney stone", "stone fragments"),
              ("coronary artery bypass grafting x3", "three-vessel coronary artery disease", "none"),
              ("excisional biopsy of breast mass", "breast mass", "breast tissue"),
              ("total abdominal hysterectomy", "symptomatic uterine fibroids", "uterus and cervix"),
              ("lumbar laminectomy L4-L5", "lumbar spinal stenosis", "bone and ligamentum flavum"),
              ("carpal tunnel release, right", "right carpal tunnel syndrome", "none"),
              ("upper endoscopy with biopsy", "epigastric pain", "gastric biopsies")]


def w_operative(p, c):
    proc, dx, spec = pick(PROCEDURES)
    hs = R.randint(0, 3)
    lines = []
    fields = [("Preoperative Diagnosis", dx), ("Postoperative Diagnosis", pick([dx, "Same", "Same as above"])),
              ("Procedure", proc), ("Surgeon", c["doctor"]), ("Assistant", pick([c["doctor2"], "None",
                                                                                  nurse()])),
              ("Anesthesia", pick(["General endotracheal", "General", "Spinal", "MAC with local",
                                   "Regional block with sedation"])),
              ("Estimated Blood Loss", pick(["Minimal", "%d mL" % R.randint(5, 800), "<%d cc" % R.randint(10, 100)])),
              ("Fluids", "%d mL crystalloid" % R.randint(300, 3000)),
              ("Specimens", spec if spec != "none" else "None"),
              ("Drains", pick(["None", "19 French Blake drain", "Foley catheter"])),
              ("Complications", pick(["None", "None apparent", "None."])),
              ("Condition", pick(["Stable to PACU", "Extubated, stable to recovery"]))]
    abbrev = {"Preoperative Diagnosis": "Pre-op Dx", "Postoperative Diagnosis": "Post-op Dx",
              "Estimated Blood Loss": "EBL"}
    for k, v in fields:
        if maybe(0.15) and k not in ("Procedure", "Preoperative Diagnosis"):
            continue
        name = abbrev.get(k, k) if maybe(0.3) else k
        lines.append((name.upper() if hs in (0, 2) else name) + ": " + v)
    lines.append(heading(pick(["Indications", "Indications for Procedure", "Indication"]), hs))
    lines.extend(para("%s %s is a %d-year-old %s with %s. %s" % (
        p.title(), p.family, p.age, p.sexword(), dx, pick(
            ["Risks, benefits and alternatives were discussed and informed consent was obtained.",
             "After discussion of the risks and benefits the patient elected to proceed.",
             "Consent was signed and is on the chart."]))))
    lines.append(heading(pick(["Description of Procedure", "Procedure in Detail", "Details of Procedure",
                               "Operative Findings and Technique", "Description of Operation"]), hs))
    steps = [pick(["The patient was brought to the operating room and placed in the supine position.",
                   "The patient was taken to the OR and positioned supine on the operating table.",
                   "After induction of %s anesthesia the patient was positioned %s." % (
                       pick(["general", "spinal"]), pick(["supine", "prone", "in lithotomy", "lateral"]))]),
             pick(["The %s was prepped and draped in the usual sterile fashion." % pick(
                 ["abdomen", "left hip", "right knee", "chest", "perineum", "back"]),
                   "Sterile prep and drape were performed."]),
             pick(["A time-out was performed confirming the patient, procedure and site.",
                   "Time out was completed per protocol."]),
             pick(["Preoperative antibiotics were given.", "Cefazolin 2 g IV was given before incision.", ""]),
             pick(["An incision was made %s." % pick(["at the umbilicus", "over the lateral hip",
                                                      "in the midline", "in the right lower quadrant"]),
                   "Pneumoperitoneum was established with a Veress needle and trocars were placed under direct vision.",
                   "Dissection was carried down through the subcutaneous tissue with electrocautery."]),
             pick(["The %s was identified and carefully dissected." % pick(["cystic duct", "appendix",
                                                                            "hernia sac", "fracture site",
                                                                            "ureteral orifice"]),
                   "Findings included %s." % pick(["an inflamed, distended gallbladder", "a perforated appendix",
                                                   "dense adhesions", "a displaced fracture"])]),
             pick(["Hemostasis was obtained.", "The field was irrigated and hemostasis confirmed.",
                   "Hemostasis was assured with electrocautery."]),
             pick(["The fascia was closed with 0 Vicryl and the skin with 4-0 Monocryl.",
                   "The incisions were closed with staples.", "Skin was closed with running subcuticular suture."]),
             pick(["Sponge, needle and instrument counts were correct x2.", "All counts were correct at the end of the case."]),
             pick(["The patient tolerated the procedure well and was taken to recovery in stable condition.",
                   "The patient was extubated and transported to PACU in good condition."])]
    lines.extend(para(sentence_join(steps)))
    if maybe(0.4):
        lines.append(pick(["I was present and scrubbed for the entire procedure.",
                           "Dr. %s was present for the key portions of the case." % pick(FAMILY)]))
    return lines


IMAGING = [("CT abdomen and pelvis with IV contrast", ["The liver, spleen, pancreas and adrenal glands are unremarkable.",
                                                       "There is no free fluid or free air.",
                                                       "The appendix is dilated to 12 mm with periappendiceal fat stranding.",
                                                       "The gallbladder is distended with pericholecystic fluid.",
                                                       "Multiple dilated loops of small bowel with a transition point in the right lower quadrant.",
                                                       "Kidneys enhance symmetrically without hydronephrosis.",
                                                       "Diverticulosis of the sigmoid colon without diverticulitis."]),
           ("Chest radiograph, PA and lateral", ["The lungs are clear.", "There is a right lower lobe opacity.",
                                                 "The cardiomediastinal silhouette is enlarged.",
                                                 "No pleural effusion or pneumothorax.",
                                                 "Small bilateral pleural effusions.",
                                                 "Pulmonary vascular congestion.",
                                                 "Degenerative changes of the thoracic spine."]),
           ("CT head without contrast", ["No acute intracranial hemorrhage.", "No mass effect or midline shift.",
                                         "Chronic small vessel ischemic changes.",
                                         "Hypodensity in the left MCA territory concerning for acute infarct.",
                                         "The ventricles are normal in size.", "The calvarium is intact."]),
           ("MRI brain with and without contrast", ["Restricted diffusion in the right frontal lobe.",
                                                    "No abnormal enhancement.", "Mild generalized volume loss.",
                                                    "Scattered T2/FLAIR white matter hyperintensities."]),
           ("Ultrasound right upper quadrant", ["The gallbladder contains multiple shadowing stones.",
                                                "Gallbladder wall thickening to 5 mm.",
                                                "Positive sonographic Murphy sign.",
                                                "The common bile duct measures 4 mm.",
                                                "The liver is echogenic, consistent with steatosis."]),
           ("X-ray left hip, 2 views", ["Displaced fracture of the left femoral neck.",
                                        "No dislocation.", "Osteopenia.", "Mild degenerative joint space narrowing."]),
           ("CT angiogram chest", ["Filling defects in the right lower lobe segmental pulmonary arteries.",
                                   "No pulmonary embolism.", "RV/LV ratio is normal.",
                                   "Emphysematous changes in both upper lobes."]),
           ("Renal ultrasound", ["Moderate right hydronephrosis.", "Kidneys are normal in size.",
                                 "No renal calculi are seen.", "The bladder is decompressed."]),
           ("Screening mammogram, bilateral", ["The breasts are heterogeneously dense.",
                                               "No suspicious masses, calcifications or architectural distortion.",
                                               "A 9 mm irregular mass in the left breast at 2 o'clock."]),
           ("Echocardiogram, transthoracic", ["Left ventricular ejection fraction estimated at 35 percent.",
                                              "Moderate mitral regurgitation.", "Normal right ventricular size and function.",
                                              "No pericardial effusion."])]


def w_imaging(p, c):
    exam, findings = pick(IMAGING)
    hs = R.randint(0, 3)
    lines = []
    lines.append(pick(["EXAM: ", "Examination: ", "Study: ", "Procedure: "]) + exam)
    if maybe(0.6):
        lines.append(pick(["Accession: ", "Acc #: ", "Order #: "]) + "%d" % R.randint(10000000, 99999999))
    if maybe(0.5):
        lines.append(pick(["Ordering physician: ", "Referring: ", "Ordered by: "]) + c["doctor2"])
    lines.append(heading(pick(["Clinical History", "Indication", "History", "Reason for Exam",
                               "Clinical Information"]), hs))
    lines.append(pick([pick(SYMPTOMS).capitalize() + ".", "Evaluate for %s." % c["problem"][0],
                       "%d yo %s with %s." % (p.age, p.sex, pick(SYMPTOMS)), "Rule out %s." % c["problem"][0]]))
    lines.append(heading(pick(["Comparison", "Comparisons", "Prior Studies"]), hs))
    lines.append(pick(["None.", "None available.", "Prior study dated %s." % fmt_date(rdate()),
                       "Radiograph from %s." % fmt_date(rdate())]))
    if maybe(0.7):
        lines.append(heading(pick(["Technique", "Technique and Protocol"]), hs))
        lines.append(pick(["Axial images were obtained from the %s with coronal and sagittal reformats." % pick(
            ["lung bases through the pubic symphysis", "vertex to the skull base", "thoracic inlet to the adrenals"]),
                           "Standard views were obtained.", "Grayscale and color Doppler images were obtained.",
                           "%d mL of Omnipaque 350 was administered intravenously." % R.randint(60, 120),
                           "Multiplanar multisequence images were obtained."]))
    lines.append(heading(pick(["Findings", "FINDINGS", "Results"]), hs))
    for f in some(findings, 2, 5):
        lines.append(pick(["", "- "]) + f)
    lines.append(heading(pick(["Impression", "IMPRESSION", "Conclusion", "Summary"]), hs))
    for i, f in enumerate(some(findings, 1, 3)):
        lines.append(pick(["%d. " % (i + 1), ""]) + f)
    if maybe(0.6):
        lines.append(pick(["Dictated by: ", "Interpreted by: ", "Reading radiologist: "]) + c["doctor"])
    if maybe(0.4):
        lines.append(pick(["Critical result communicated to %s at %s." % (c["doctor2"], fmt_time()),
                           "This report was electronically signed.", "Preliminary report reviewed, no discrepancy."]))
    return lines


def w_lab(p, c):
    lines = []
    lines.append(pick(["Collected: ", "Collection Date: ", "Specimen collected: ", "Drawn: "]) + fmt_date(c["date"]) +
                 " " + fmt_time())
    if maybe(0.6):
        lines.append(pick(["Received: ", "Received in lab: "]) + fmt_date(c["date"]) + " " + fmt_time())
    if maybe(0.6):
        lines.append(pick(["Accession: ", "Specimen ID: ", "Lab #: "]) + "%s%d" % (pick(["", "L", "CH", "H"]),
                                                                                 R.randint(100000, 9999999)))
    if maybe(0.5):
        lines.append(pick(["Ordering provider: ", "Ordered by: ", "Physician: "]) + c["doctor2"])
    if maybe(0.4):
        lines.append(pick(["Specimen: ", "Source: "]) + pick(["Blood, venous", "Serum", "Plasma", "Whole blood",
                                                             "Urine, clean catch"]))
    layout = R.randint(0, 2)
    if layout < 2 and maybe(0.7):
        lines.append(pick(["Test                      Result     Units      Reference Range   Flag",
                           "TEST            RESULT   FLAG   UNITS    REF RANGE",
                           "Component   Value   Ref Range   Units"]))
    for panel in some(list(PANELS), 1, 4):
        lines.append(pick([panel.upper(), panel, panel + ":"]))
        for n in PANELS[panel]:
            if maybe(0.15):
                continue
            v, u, ref, flag = lab_value(n)
            if layout == 0:
                lines.append("%-26s %-10s %-10s %-17s %s" % (n, v, u, ref, flag))
            elif layout == 1:
                lines.append("%-16s %7s %-4s %-8s %s" % (n.upper(), v, flag, u, ref))
            else:
                lines.append("%s: %s %s (ref %s) %s" % (n, v, u, ref, "*" + flag if flag else ""))
    if maybe(0.4):
        lines.append(pick(["H = High, L = Low", "Results flagged H/L are outside the reference interval.",
                           "* Abnormal result"]))
    if maybe(0.5):
        lines.append(pick(["Performed at: %s Clinical Laboratory" % pick(FACILITIES),
                           "Laboratory Director: %s" % doctor(), "CLIA #%dD%07d" % (R.randint(10, 99),
                                                                                    R.randint(0, 9999999))]))
    if maybe(0.3):
        lines.append(pick(["Specimen slightly hemolyzed; potassium may be falsely elevated.",
                           "Verified by %s." % nurse(), "Final report."]))
    return lines


PATH_SPECIMENS = [("Gallbladder, cholecystectomy", "Chronic cholecystitis with cholelithiasis.",
                   "The specimen is received in formalin labeled with the patient's name and consists of an "
                   "opened gallbladder measuring %d x %d x %d cm. The serosa is smooth. The mucosa is velvety green. "
                   "Multiple yellow faceted stones are present."),
                  ("Appendix, appendectomy", "Acute suppurative appendicitis with periappendicitis.",
                   "Received fresh is a vermiform appendix measuring %d x %d x %d cm with fibrinous exudate on the "
                   "serosa. The lumen contains a fecalith."),
                  ("Colon, right, hemicolectomy", "Invasive adenocarcinoma, moderately differentiated, "
                                                  "invading into the muscularis propria; margins negative; 0 of 18 lymph nodes involved (pT2 N0).",
                   "Received in formalin is a segment of right colon with terminal ileum measuring %d cm in length "
                   "with an ulcerated mass measuring %d x %d cm."),
                  ("Breast, left, excisional biopsy", "Fibroadenoma. Negative for malignancy.",
                   "The specimen consists of a fragment of fibrofatty tissue measuring %d x %d x %d cm with a "
                   "well-circumscribed rubbery nodule."),
                  ("Stomach, antrum, biopsy", "Chronic active gastritis; Helicobacter pylori organisms identified.",
                   "Received in formalin are %d tan fragments of soft tissue, ranging up to %d mm, entirely "
                   "submitted in %d cassette."),
                  ("Skin, left forearm, shave biopsy", "Basal cell carcinoma, nodular type; peripheral margin involved.",
                   "Received is a shave of tan skin measuring %d x %d x %d mm."),
                  ("Uterus and cervix, hysterectomy", "Leiomyomata; proliferative endometrium; benign cervix.",
                   "The uterus weighs %d g and measures %d x %d cm. Multiple well-circumscribed whorled nodules."),
                  ("Prostate, needle biopsies", "Prostatic adenocarcinoma, Gleason score 3+4=7, in 2 of 12 cores.",
                   "Received are %d needle cores of tan tissue ranging from %d to %d mm.")]


def w_pathology(p, c):
    spec, dx, gross = pick(PATH_SPECIMENS)
    hs = R.randint(0, 3)
    lines = []
    lines.append(pick(["Case #: ", "Accession No: ", "Surgical Pathology #: "]) + "%s%02d-%05d" % (
        pick(["S", "SP", "P"]), R.randint(15, 25), R.randint(1, 99999)))
    if maybe(0.6):
        lines.append(pick(["Date of procedure: ", "Collected: ", "Date received: "]) + fmt_date(c["date"]))
    if maybe(0.6):
        lines.append(pick(["Submitting physician: ", "Surgeon: ", "Clinician: "]) + c["doctor2"])
    lines.append(heading(pick(["Specimen", "Specimen(s) Received", "Source of Specimen"]), hs))
    lines.append(pick(["A. ", "1. ", ""]) + spec)
    if maybe(0.7):
        lines.append(heading(pick(["Clinical History", "Clinical Information", "Pre-operative Diagnosis"]), hs))
        lines.append(pick([c["problem"][0].capitalize() + ".", "%d year old %s." % (p.age, p.sexword()),
                           "Rule out malignancy.", "Mass."]))
    order = R.randint(0, 1)
    diag = [heading(pick(["Final Diagnosis", "Diagnosis", "Pathologic Diagnosis", "DIAGNOSIS"]), hs),
            pick(["", "A. "]) + spec.upper() + ":" if maybe(0.5) else spec + ":", "- " + dx]
    if order == 0:
        lines.extend(diag)
    lines.append(heading(pick(["Gross Description", "Gross", "Macroscopic Description"]), hs))
    nums = tuple(R.randint(1, 30) for _ in range(gross.count("%d")))
    lines.extend(para(gross % nums + " " + pick(["Representative sections are submitted in %d cassettes." % R.randint(1, 12),
                                                 "Entirely submitted in cassette A1.", "Sections submitted as follows: A1-A%d." % R.randint(2, 9)])))
    lines.append(heading(pick(["Microscopic Description", "Microscopic", "Histologic Description"]), hs))
    lines.extend(para(pick(["Sections show %s." % pick(["mucosal ulceration with transmural neutrophilic infiltrate",
                                                         "Rokitansky-Aschoff sinuses and chronic inflammation",
                                                         "infiltrating glands with cribriform architecture",
                                                         "a biphasic lesion with compressed ducts and stroma",
                                                         "nests of basaloid cells with peripheral palisading"]),
                            "Microscopic examination confirms the diagnosis.",
                            "H&E stained sections were examined. Immunohistochemical stains support the diagnosis."])))
    if order == 1:
        lines.extend(diag)
    if maybe(0.5):
        lines.append(pick(["Electronically signed out by %s, Pathologist" % c["doctor"],
                           "Pathologist: %s" % c["doctor"],
                           "I have personally reviewed the slides and rendered the diagnosis."]))
    return lines


CONSENT_PROCS = ["laparoscopic cholecystectomy", "blood transfusion", "colonoscopy with possible biopsy",
                 "cardiac catheterization", "general anesthesia", "total knee replacement", "central line placement",
                 "lumbar puncture", "upper endoscopy", "cesarean delivery", "moderate sedation",
                 "release of medical information", "HIV testing", "photography for the medical record"]


def w_consent(p, c):
    proc = pick(CONSENT_PROCS)
    lines = []
    lines.extend(para(pick([
        "I, %s %s, hereby authorize %s and such assistants as may be selected to perform the following "
        "procedure: %s." % (p.given, p.family, c["doctor"], proc),
        "I voluntarily consent to %s to be performed by %s or an associate." % (proc, c["doctor"]),
        "Procedure: %s. Physician: %s." % (proc.capitalize(), c["doctor"]),
        "The undersigned patient (or legal representative) gives permission for %s." % proc])))
    blocks = [
        "The nature and purpose of the procedure, the possible alternatives, and the risks and benefits have been "
        "explained to me. I understand that risks include but are not limited to %s." % ", ".join(
            some(["bleeding", "infection", "injury to nearby organs", "blood clots", "reaction to anesthesia",
                  "need for further surgery", "death", "allergic reaction", "nerve damage", "scarring"], 3, 6)),
        "I have had the opportunity to ask questions and all of my questions have been answered to my satisfaction.",
        "I understand that no guarantee has been made to me as to the results that may be obtained.",
        "I consent to the administration of anesthesia as may be considered necessary.",
        "I consent to the disposal of any tissue or parts removed during the procedure.",
        "I understand that I may refuse or withdraw this consent at any time before the procedure.",
        "If an unforeseen condition arises, I request the physician to perform such procedures as are necessary.",
        "I consent to the transfusion of blood or blood products if needed. Alternatives to transfusion have been "
        "explained.",
        "Residents and other trainees may participate under supervision.",
        "I certify that I have read and fully understand the above consent.",
    ]
    for b in some(blocks, 3, 8):
        lines.extend(para(pick(["", "[ ] ", "__ ", "%d. " % R.randint(1, 9)]) + b))
    lines.append("")
    lines.append(pick(["Patient signature: ______________________  Date: ________  Time: ______",
                       "Signature of Patient or Legal Representative: ____________________",
                       "Patient/Guardian: ________________________"]))
    if maybe(0.6):
        lines.append(pick(["Relationship to patient (if not patient): ____________",
                           "If signed by other than patient, state relationship: __________"]))
    lines.append(pick(["Witness: ______________________", "Witness signature: ________________  Date: ______"]))
    if maybe(0.5):
        lines.append(pick(["Interpreter used: Yes / No   Language: ________",
                           "Interpreter name and ID: ____________"]))
    lines.append(pick(["Physician attestation: I have explained the procedure, risks, benefits and alternatives.",
                       "Physician signature: ______________________",
                       "Person obtaining consent: %s" % c["doctor"]]))
    return lines


def w_medlist(p, c):
    lines = []
    if maybe(0.6):
        lines.append(pick(["Allergies: ", "ALLERGIES: ", "Drug allergies: "]) + pick(ALLERGIES))
    if maybe(0.5):
        lines.append(pick(["Source of information: ", "Obtained from: "]) + pick(
            ["patient", "pharmacy records", "family member", "outside records", "patient and pill bottles"]))
    layout = R.randint(0, 3)
    if layout == 0:
        lines.append(pick(["Medication            Dose      Route   Frequency            Indication",
                           "DRUG                  DOSE      ROUTE   FREQUENCY            FOR"]))
    elif layout == 1:
        lines.append(pick(["Medication / Dose / Instructions / Last taken",
                           "Name | Strength | Directions | Status"]))
    meds = some(MEDS, 3, 14)
    for m in meds:
        name, dose, route, freq = m
        ind = pick(COMORBID + ["pain", "sleep", "constipation", ""])
        if layout == 0:
            lines.append("%-21s %-9s %-7s %-20s %s" % (name, dose, route, freq, ind))
        elif layout == 1:
            lines.append("%s %s / %s %s / %s" % (name, dose, route, freq, pick(
                ["last dose this morning", "taking", "not taking", "continue", "new", "changed", "stop"])))
        elif layout == 2:
            lines.append(pick(["- ", "* ", "o "]) + "%s %s, take %s %s" % (name.capitalize(), dose, pick(
                ["1 tablet", "2 tablets", "as directed", "1 capsule"]), freq))
        else:
            lines.append("%s %s %s %s%s" % (name.upper(), dose, route, freq.upper(), pick(
                ["", "  Start: " + fmt_date(rdate()), "  Qty: %d  Refills: %d" % (R.randint(10, 90),
                                                                                    R.randint(0, 5))])))
    if maybe(0.5):
        lines.append(pick(["Over-the-counter: %s." % ", ".join(some(["ibuprofen", "multivitamin", "fish oil",
                                                                    "melatonin", "loratadine", "calcium"], 1, 3)),
                           "Medications discontinued this admission: %s." % med_phrase(pick(MEDS)),
                           "STOP taking: %s" % pick(MEDS)[0]]))
    if maybe(0.6):
        lines.append(pick(["Reconciled by: %s" % nurse(), "Reviewed with patient by %s, PharmD" % " ".join(person()),
                           "Medication reconciliation completed at %s." % pick(["admission", "discharge", "transfer"]),
                           "Bring this list to every appointment."]))
    return lines


def w_careplan(p, c):
    prob, dept, drugs = c["problem"]
    hs = R.randint(0, 3)
    lines = []
    if maybe(0.5):
        lines.append(pick(["Initiated: ", "Date initiated: ", "Plan start: "]) + fmt_date(c["date"]))
    problems = [prob, pick(["risk for falls", "impaired skin integrity", "acute pain", "knowledge deficit",
                            "risk for infection", "impaired mobility", "ineffective breathing pattern",
                            "risk for aspiration", "anxiety", "nutrition less than body requirements",
                            "discharge planning needs", "self-care deficit"])]
    if maybe(0.5):
        problems.append(pick(["caregiver role strain", "medication adherence", "fluid volume excess"]))
    for i, pr in enumerate(problems):
        lines.append(heading(pick(["Problem", "Nursing Diagnosis", "Problem #%d" % (i + 1), "Need"]), hs) +
                     " " + pr.capitalize())
        lines.append(pick(["Goal: ", "Goals: ", "Expected outcome: ", "Desired outcome: "]) + pick(
            ["patient will verbalize pain less than 4/10 by discharge.", "remain free of falls during stay.",
             "maintain oxygen saturation above 92 percent.", "demonstrate correct inhaler technique.",
             "ambulate 150 feet with a walker within 3 days.", "understand the medication regimen.",
             "skin remains intact.", "blood glucose between 100 and 180."]))
        if maybe(0.6):
            lines.append(pick(["Target date: ", "Target: ", "Review by: "]) + fmt_date(
                c["date"] + datetime.timedelta(days=R.randint(2, 30))))
        lines.append(pick(["Interventions:", "Nursing interventions:", "Actions:", "Plan:"]))
        for it in some(["Assess pain every 4 hours and as needed.", "Turn and reposition every 2 hours.",
                        "Bed alarm on; call light within reach.", "Educate on low sodium diet.",
                        "Encourage incentive spirometry 10 times per hour.", "Daily weights.",
                        "Physical therapy twice daily.", "Dietitian consult.", "Social work for discharge needs.",
                        "Monitor intake and output.", "Teach back medication schedule.",
                        "Administer %s as ordered." % pick(drugs), "Elevate head of bed 30 degrees."], 2, 5):
            lines.append(pick(["- ", "* ", "  ", ""]) + it)
        if maybe(0.5):
            lines.append(pick(["Evaluation: ", "Progress: ", "Status: "]) + pick(
                ["goal met.", "progressing.", "not met, plan revised.", "ongoing."]))
    if maybe(0.5):
        lines.append(pick(["Interdisciplinary team: nursing, physician, physical therapy, case management.",
                           "Patient and family participated in developing this plan.",
                           "Discussed at multidisciplinary rounds."]))
    if maybe(0.4):
        lines.append(pick(["Discharge plan: home with services.", "Anticipated discharge: %s." % fmt_date(
            c["date"] + datetime.timedelta(days=R.randint(2, 10))), "Advance directive on file: yes."]))
    return lines


def w_letter(p, c):
    prob, dept, drugs = c["problem"]
    lines = []
    addressee = pick(["doctor", "patient", "whom", "insurer"])
    if maybe(0.6):
        lines.append(fmt_date(c["date"]))
    if addressee == "doctor":
        lines.append(c["doctor2"])
        if maybe(0.6):
            lines.append("%d %s" % (R.randint(2, 900), pick(STREETS)))
            lines.append("%s" % pick(TOWNS))
        lines.append(pick(["RE: %s %s, DOB %s" % (p.given, p.family, p.dob.strftime("%m/%d/%Y")),
                           "Re: %s, %s" % (p.family, p.given), "Regarding: your patient %s %s" % (p.given,
                                                                                                  p.family)]))
        lines.append("Dear Dr. %s," % c["doctor2"].split(",")[0].split()[-1])
        body = [pick(["Thank you for referring %s %s to our %s clinic." % (p.title(), p.family, dept.lower()),
                      "I had the pleasure of seeing %s %s in the office today." % (p.title(), p.family),
                      "I am writing to update you on our mutual patient."]),
                pick(["As you know, %s has %s." % (p.he(), prob),
                      "%s was seen for %s." % (p.he().capitalize(), prob)]),
                pick(["My impression is %s. I have recommended %s." % (prob, pick(
                    ["starting %s" % pick(drugs), "further imaging", "a trial of physical therapy",
                     "no change in therapy"])), "We discussed the options in detail."]),
                pick(["I will see %s again in %d months." % ("her" if p.sex == "F" else "him", R.randint(1, 6)),
                      "Please do not hesitate to contact me with any questions.",
                      "I would be happy to see %s again as needed." % ("her" if p.sex == "F" else "him")])]
    elif addressee == "patient":
        lines.append("%s %s %s" % (p.title(), p.given, p.family))
        lines.append("%d %s, %s" % (R.randint(2, 900), pick(STREETS), pick(TOWNS)))
        lines.append("Dear %s %s," % (p.title(), p.family))
        body = [pick(["This letter is to inform you of the results of your recent %s." % pick(
            ["blood tests", "imaging study", "biopsy", "screening test"]),
                      "We are writing to let you know that it is time for your %s." % pick(
                          ["annual examination", "follow-up colonoscopy", "mammogram", "diabetes check"]),
                      "We tried to reach you by phone regarding your recent visit."]),
                pick(["Your results were within normal limits.", "Your results show %s; please schedule a "
                                                                "follow-up appointment." % prob,
                      "No further action is needed at this time."]),
                "Please call our office at (%03d) %03d-%04d if you have any questions." % (
                    R.randint(200, 999), R.randint(200, 999), R.randint(0, 9999))]
    elif addressee == "whom":
        lines.append("To Whom It May Concern:")
        body = [pick(["%s %s is under my care for %s." % (p.given, p.family, prob),
                      "This is to certify that %s %s was seen in our clinic on %s." % (p.given, p.family,
                                                                                       fmt_date(c["date"]))]),
                pick(["%s may return to %s on %s without restrictions." % (p.he().capitalize(), pick(
                    ["work", "school"]), fmt_date(c["date"] + datetime.timedelta(days=R.randint(1, 14)))),
                      "%s should be excused from %s for %d days." % (p.he().capitalize(), pick(
                          ["work", "school", "jury duty"]), R.randint(2, 14)),
                      "%s requires %s." % (p.he().capitalize(), pick(["a handicap parking permit",
                                                                      "frequent rest breaks",
                                                                      "accommodation for medical appointments"]))])]
    else:
        lines.append(pick(["Utilization Review Department", "Appeals Department", "Medical Director"]))
        lines.append(pick(["Re: Letter of medical necessity", "Re: Appeal of denied claim",
                           "Re: Request for coverage"]) + " - %s %s" % (p.given, p.family))
        lines.append(pick(["Dear Medical Director,", "Dear Sir or Madam,", "To the Review Committee:"]))
        body = ["I am writing on behalf of my patient, %s %s, to request coverage of %s." % (
            p.given, p.family, pick(drugs + ["an MRI", "physical therapy", "a continuous glucose monitor"])),
                "%s has %s and has failed %s." % (p.he().capitalize(), prob, pick(["first-line therapy",
                                                                                  "conservative management",
                                                                                  "two prior medications"])),
                "In my medical opinion this treatment is medically necessary."]
    lines.append("")
    lines.extend(para(sentence_join(body)))
    lines.append("")
    lines.append(pick(["Sincerely,", "Yours sincerely,", "Best regards,", "Kind regards,", "With regards,"]))
    lines.append(c["doctor"])
    if maybe(0.5):
        lines.append(pick([dept, "Department of " + dept, pick(FACILITIES)]))
    if maybe(0.4):
        lines.append(pick(["cc: %s" % doctor(), "Enclosure", "cc: patient"]))
    return lines


def w_other(p, c):
    kind = R.randint(0, 7)
    lines = []
    if kind == 0:  # fax cover
        lines += ["FAX" if maybe(0.5) else "Facsimile Transmittal",
                  "To: %s" % pick(FACILITIES + ["Medical Records", "Dr. " + pick(FAMILY)]),
                  "From: %s" % pick(FACILITIES), "Fax: (%03d) %03d-%04d" % (R.randint(200, 999), R.randint(200, 999),
                                                                            R.randint(0, 9999)),
                  "Pages (including cover): %d" % R.randint(2, 30), "Re: records request",
                  pick(["CONFIDENTIALITY NOTICE: The documents accompanying this transmission contain confidential "
                        "health information that is legally privileged. If you are not the intended recipient, "
                        "you are hereby notified that any disclosure, copying, or distribution is prohibited.",
                        "This message is intended only for the use of the addressee. If you received it in error, "
                        "please notify the sender immediately and destroy the pages."])]
    elif kind == 1:  # billing statement
        lines += [pick(["Statement", "PATIENT STATEMENT", "Billing Statement"]),
                  "Account number: %d" % R.randint(1000000, 9999999), "Statement date: %s" % fmt_date(c["date"]),
                  "Service                          Date        Charges   Insurance paid   You owe"]
        for _ in range(R.randint(2, 7)):
            lines.append("%-32s %-11s %8.2f %10.2f %10.2f" % (pick(
                ["Office visit, established", "Laboratory services", "Radiology", "Emergency room",
                 "Pharmacy", "Room and board", "Anesthesia", "Supplies"]), fmt_date(rdate()),
                R.uniform(20, 3000), R.uniform(0, 2000), R.uniform(0, 500)))
        lines += ["Amount due: $%.2f" % R.uniform(10, 2000), "Please detach and return the lower portion with your payment.",
                  "Questions about your bill? Call Patient Financial Services."]
    elif kind == 2:  # insurance authorisation
        lines += [pick(["Prior Authorization Request", "Authorization Request", "Precertification Form"]),
                  "Member ID: %s%d" % (pick(["XJ", "QH", "W"]), R.randint(10000000, 99999999)),
                  "Group number: %d" % R.randint(10000, 99999), "Plan: %s" % pick(
                      ["Commercial PPO", "Medicare Advantage", "Medicaid managed care", "HMO"]),
                  "Requested service: %s" % pick(["MRI lumbar spine", "outpatient surgery", "durable medical equipment",
                                                  "specialty medication"]),
                  "CPT code: %05d   ICD-10: %s%02d.%d" % (R.randint(10000, 99999), pick("EIJKMNR"), R.randint(0, 99),
                                                          R.randint(0, 9)),
                  "Status: %s" % pick(["approved", "pending clinical review", "denied - additional information needed"]),
                  "Reference number: %d" % R.randint(100000000, 999999999)]
    elif kind == 3:  # registration
        lines += [pick(["Patient Registration", "Demographic Information", "New Patient Information Form"]),
                  "Name: %s %s" % (p.given, p.family), "Address: %d %s, %s" % (R.randint(2, 900), pick(STREETS),
                                                                               pick(TOWNS)),
                  "Phone: (%03d) %03d-%04d" % (R.randint(200, 999), R.randint(200, 999), R.randint(0, 9999)),
                  "Marital status: %s" % pick(["single", "married", "widowed", "divorced"]),
                  "Preferred language: %s" % pick(["English", "Spanish", "Polish", "Vietnamese"]),
                  "Emergency contact: %s %s (%s)" % (pick(GIVEN), pick(FAMILY), pick(["spouse", "son", "friend"])),
                  "Primary insurance: %s" % pick(["Blue Meadow Health", "Medicare", "Medicaid", "Self-pay"]),
                  "Employer: %s" % pick(["retired", "county schools", "self-employed", "unemployed"]),
                  "I authorize release of information necessary to process insurance claims."]
    elif kind == 4:  # appointment reminder
        lines += [pick(["Appointment Reminder", "Your Upcoming Appointment", "Visit Confirmation"]),
                  "Date: %s  Time: %s" % (fmt_date(c["date"]), fmt_time()),
                  "Location: %s, %s" % (pick(FACILITIES), pick(["Suite 200", "2nd floor", "Building B"])),
                  "Provider: %s" % c["doctor"],
                  "Please arrive 15 minutes early and bring your insurance card and a photo ID.",
                  "To cancel or reschedule, call at least 24 hours in advance.",
                  pick(["Parking is available in the north garage.", "Masks are required in clinical areas.", ""])]
    elif kind == 5:  # release of information
        lines += [pick(["Authorization for Release of Information", "Records Request", "HIPAA Authorization"]),
                  "I authorize %s to release records to %s." % (pick(FACILITIES), pick(
                      FACILITIES + ["my attorney", "the Social Security Administration", "my insurance company"])),
                  "Records requested: %s" % ", ".join(some(["office notes", "laboratory results", "imaging reports",
                                                            "discharge summaries", "billing records"], 1, 3)),
                  "Purpose: %s" % pick(["continuity of care", "legal", "insurance", "personal use"]),
                  "This authorization expires on %s." % fmt_date(rdate(2026, 2028)),
                  "Signature: ______________________  Date: ________"]
    elif kind == 6:  # patient education handout
        topic = pick(["Heart failure", "Diabetes", "Caring for your incision", "Blood thinners", "Asthma"])
        lines += [pick(["Patient Education", "Information for Patients", "What You Need to Know"]) + ": " + topic,
                  pick(["What is it?", "About your condition"]),
                  "%s is a common condition. This handout explains what to expect and how to take care of yourself "
                  "at home." % topic,
                  pick(["Call your doctor if you have:", "When to get help:"]),
                  "- " + pick(SYMPTOMS), "- " + pick(SYMPTOMS), "- a temperature over 101 F",
                  "Keep all of your follow-up appointments."]
    else:  # flowsheet / vital signs record
        lines += [pick(["Vital Signs Flowsheet", "Intake and Output Record", "Nursing Flowsheet"])]
        lines.append("Time     BP        HR   RR   Temp   SpO2   Pain")
        for _ in range(R.randint(4, 12)):
            lines.append("%s   %d/%d   %d   %d   %.1f   %d%%   %d" % (
                fmt_time(), R.randint(90, 170), R.randint(50, 100), R.randint(50, 120), R.randint(12, 24),
                R.uniform(36.0, 38.9), R.randint(88, 100), R.randint(0, 10)))
        lines.append("Initials: %s" % "".join(x[0] for x in person()))
    return lines


WRITERS = {"18842-5": w_discharge, "11506-3": w_progress, "34117-2": w_hp, "11488-4": w_consult,
           "34111-5": w_ed, "11504-8": w_operative, "18748-4": w_imaging, "11502-2": w_lab,
           "11526-1": w_pathology, "59284-0": w_consent, "10160-0": w_medlist, "18776-5": w_careplan,
           "51852-2": w_letter, "other": w_other}

# ---------------------------------------------------------------------------
# Framing, wrapping, pagination, OCR-like noise


def para(text):
    if not text:
        return []
    width = CUR_WIDTH[0]
    out, line = [], ""
    for w in text.split():
        if line and len(line) + 1 + len(w) > width:
            out.append(line)
            line = w
        else:
            line = (line + " " + w) if line else w
    if line:
        out.append(line)
    return out


CUR_WIDTH = [80]


def signature(c):
    return pick(["Electronically signed by %s on %s at %s" % (c["doctor"], fmt_date(c["date"]), fmt_time()),
                 "%s\n%s" % ("_" * R.randint(20, 30), c["doctor"]), "Signed: %s" % c["doctor"],
                 "Dictated by: %s   Transcribed: %s" % (c["doctor"], fmt_date(c["date"])),
                 "Attending: %s" % c["doctor"], "-- %s" % c["doctor"], ""])


def compose(code, p):
    CUR_WIDTH[0] = R.randint(60, 95)
    c = {"problem": pick(PROBLEMS), "doctor": doctor(), "doctor2": doctor(), "date": rdate()}
    facility = pick(FACILITIES)
    head = header_lines(p, facility, c["date"])
    body = WRITERS[code](p, c)
    title = title_line(code) if maybe(0.55) else ""
    lines = []
    title_first = maybe(0.4)
    if title and title_first:
        lines.append(title)
    lines.extend(head)
    if title and not title_first:
        lines.append(title)
    lines.append("")
    lines.extend(body)
    if code not in ("59284-0", "other", "51852-2", "11502-2") and maybe(0.8):
        lines.append("")
        lines.extend(signature(c).split("\n"))
    # Long documents run over pages with a repeated header and footer.
    per_page = R.randint(45, 60)
    numbered = maybe(0.4)
    pages, cur = [], []
    for ln in lines:
        cur.append(ln)
        if len(cur) >= per_page:
            pages.append(cur)
            cur = [] if maybe(0.5) else list(head[-2:])
    if cur:
        pages.append(cur)
    if numbered:
        for i, pg in enumerate(pages):
            pg.append("")
            pg.append(pick(["Page %d of %d" % (i + 1, len(pages)), "Page %d of %d" % (i + 1, len(pages)),
                            "- %d -" % (i + 1)]))
    return pages


def ocr_noise(text, rate):
    """Character-level damage like a poor scan's OCR: confusions, drops,
    merges and splits."""
    if rate <= 0:
        return text
    conf = {"l": "1", "1": "l", "O": "0", "0": "O", "rn": "m", "m": "rn", "e": "c", "c": "e", "i": "l",
            "S": "5", "B": "8", "h": "b", "u": "v", "n": "ri", "a": "o"}
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        r = R.random()
        if r < rate and text[i:i + 2] in conf:
            out.append(conf[text[i:i + 2]])
            i += 2
            continue
        if r < rate and ch in conf:
            out.append(conf[ch])
        elif r < rate * 1.3 and ch.isalpha():
            pass  # dropped
        elif r < rate * 1.5 and ch == " ":
            pass  # words run together
        elif r < rate * 1.6 and ch.isalpha():
            out.append(ch + " ")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count-per-type", type=int, default=200)
    ap.add_argument("--noise", type=float, default=0.5,
                    help="share of documents given OCR-like character noise")
    ap.add_argument("--prefix", default="doc")
    ap.add_argument("out")
    a = ap.parse_args()
    R.seed(a.seed)
    os.makedirs(os.path.join(a.out, "text"), exist_ok=True)
    rows = []
    meta = []
    patients = [Patient() for _ in range(max(20, a.count_per_type))]
    n = 0
    for code in TYPES:
        for _ in range(a.count_per_type):
            p = pick(patients)
            pages = compose(code, p)
            rate = R.uniform(0.005, 0.04) if R.random() < a.noise else 0.0
            name = "%s-%05d.txt" % (a.prefix, n)
            with open(os.path.join(a.out, "text", name), "w") as f:
                f.write("\f".join(ocr_noise("\n".join(pg), rate) + "\n" for pg in pages))
            rows.append("text/%s,%s" % (name, code))
            meta.append({"file": "text/" + name, "type": code, "pages": len(pages), "mrn": p.mrn,
                         "family": p.family, "given": p.given, "dob": p.dob.isoformat(), "sex": p.sex})
            n += 1
    R.shuffle(rows)
    with open(os.path.join(a.out, "labels.csv"), "w") as f:
        f.write("source,type\n")
        f.write("\n".join(rows) + "\n")
    import json
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=0)
    print("wrote %d documents of %d types to %s" % (n, len(TYPES), a.out), file=sys.stderr)


if __name__ == "__main__":
    main()
