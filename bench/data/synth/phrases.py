"""Report sentence templates: per kind, positive / hedged / negated / impression paraphrases.

Placeholders: {sev} severity word ({Sev} capitalised), {adv} severity adverb, {loc} location
(side and zone), {side} side word, {var} variant-specific words (e.g. a nodule's size).
Hedged templates must stay uncertain ("may represent", "cannot be excluded", "possible") and
negated ones must negate only their own kind, because labels follow the plan, not a parser.
"""

from __future__ import annotations

INTENSITY = {
    "mild": ("mild", "minimal", "subtle"),
    "moderate": ("moderate",),
    "severe": ("severe", "extensive", "marked", "dense"),
}
SIZE = {"mild": ("small", "trace"), "moderate": ("moderate", "moderate-sized"), "severe": ("large",)}
ADVERB = {"mild": ("mildly",), "moderate": ("moderately",), "severe": ("severely", "markedly")}
SIZE_STYLE = {"effusion", "pneumothorax"}  # kinds described by size words rather than intensity

ZONE_WORDS = {
    "upper": ("{s} upper lobe", "{s} upper zone", "{s} lung apex", "{s} upper lung"),
    "middle": ("{s} mid lung", "{s} mid zone", "{s} midlung field"),
    "lower": ("{s} lower lobe", "{s} lung base", "{s} base", "{s} lower zone"),
}
MIDDLE_SPECIAL = {"right": ("right middle lobe",), "left": ("lingula",)}
BILATERAL_ZONE = {
    "upper": ("bilateral upper lobes", "both upper zones", "both lung apices"),
    "middle": ("both mid lungs", "bilateral mid lung zones"),
    "lower": ("both lung bases", "bilateral lower lobes", "both lower zones"),
}
NODULE_SIZE = {
    "mild": ("6 mm", "7 mm", "small"),
    "moderate": ("12 mm", "1.4 cm"),
    "severe": ("2.5 cm", "3 cm"),
}
FRACTURE_WORD = {"mild": ("nondisplaced",), "moderate": ("minimally displaced",), "severe": ("displaced",)}
RIB_LEVEL = {"upper": ("upper",), "middle": ("mid", "midthoracic"), "lower": ("lower",)}

POSITIVE: dict[str, tuple[str, ...]] = {
    "consolidation": (
        "{Sev} consolidation in the {loc}.",
        "There is {sev} consolidation in the {loc}.",
        "{Sev} airspace consolidation is present in the {loc}.",
        "Focal {sev} consolidation at the {loc}.",
    ),
    "pneumonia": (
        "{Sev} pneumonia in the {loc}.",
        "Patchy airspace disease in the {loc} consistent with {sev} pneumonia.",
        "Findings in the {loc} are compatible with {sev} pneumonia.",
    ),
    "opacity": (
        "{Sev} opacity in the {loc}.",
        "There is a {sev} hazy opacity in the {loc}.",
        "{Sev} ill-defined opacity projects over the {loc}.",
    ),
    "opacity:peripheral": (
        "{Sev} peripheral ground-glass opacities in the {loc}.",
        "Multifocal {sev} peripheral opacities in the {loc}.",
    ),
    "nodule": (
        "A {var} nodule in the {loc}.",
        "There is a {var} pulmonary nodule in the {loc}.",
        "A {var} nodular lesion is seen in the {loc}.",
    ),
    "atelectasis": (
        "{Sev} atelectasis at the {loc}.",
        "{Sev} plate-like atelectasis in the {loc}.",
        "There is {sev} linear atelectasis in the {loc}.",
    ),
    "edema": (
        "{Sev} pulmonary edema.",
        "There is {sev} interstitial pulmonary edema.",
        "{Sev} perihilar haziness consistent with pulmonary edema.",
    ),
    "effusion": (
        "{Sev} {side} pleural effusion.",
        "There is a {sev} {side} pleural effusion.",
        "{Sev} {side} pleural effusion blunting the costophrenic angle.",
    ),
    "effusion:bilateral": (
        "{Sev} bilateral pleural effusions.",
        "There are {sev} bilateral pleural effusions.",
    ),
    "pneumothorax": (
        "{Sev} {side} apical pneumothorax.",
        "There is a {sev} {side} pneumothorax.",
        "{Sev} {side} pneumothorax with a visible pleural line.",
    ),
    "pleural_other": (
        "{Sev} {side} {var} pleural thickening.",
        "There is {sev} pleural thickening at the {side} {var}.",
    ),
    "cardiomegaly": ("{Sev} cardiomegaly.", "The heart is {adv} enlarged.", "Heart size is {adv} enlarged."),
    "mediastinum": ("The mediastinum is {adv} widened.", "{Sev} widening of the mediastinal silhouette."),
    "fracture": ("{Var} fracture of a {side} {zone} rib.", "There is a {var} {side} {zone} rib fracture."),
    "device:ett": (
        "Endotracheal tube terminates about 4 cm above the carina.",
        "An endotracheal tube is in place.",
    ),
    "device:ng_tube": (
        "A nasogastric tube courses below the diaphragm into the stomach.",
        "An enteric tube is seen coursing into the stomach.",
    ),
    "device:central_line": (
        "A {side} internal jugular central venous catheter terminates in the superior vena cava.",
        "A {side} central line ends in the SVC.",
    ),
    "device:pacemaker": (
        "A left-sided pacemaker with a lead in the right ventricle.",
        "A cardiac pacemaker is present.",
    ),
}
HEDGED: dict[str, tuple[str, ...]] = {
    "consolidation": (
        "Subtle airspace disease in the {loc} may represent early consolidation.",
        "Possible consolidation in the {loc}.",
        "Consolidation in the {loc} cannot be excluded.",
    ),
    "pneumonia": (
        "Patchy airspace disease in the {loc}; pneumonia cannot be excluded.",
        "Possible early pneumonia in the {loc}.",
        "Findings in the {loc} may represent pneumonia.",
    ),
    "opacity": ("Questionable faint opacity in the {loc}.", "Possible opacity in the {loc}."),
    "nodule": (
        "Possible nodule in the {loc}.",
        "A nodular density in the {loc} may represent a nipple shadow; "
        "a pulmonary nodule cannot be excluded.",
    ),
    "atelectasis": (
        "Streaky density at the {loc} may represent atelectasis.",
        "Possible atelectasis in the {loc}.",
    ),
    "edema": ("Perihilar haziness may reflect mild pulmonary edema.", "Possible mild pulmonary edema."),
    "effusion": (
        "Blunting of the {side} costophrenic angle may represent a small pleural effusion.",
        "A small {side} pleural effusion cannot be excluded.",
        "Possible trace {side} pleural effusion.",
    ),
    "pneumothorax": (
        "Possible tiny {side} apical pneumothorax.",
        "A small {side} pneumothorax cannot be excluded.",
    ),
    "pleural_other": ("Possible {side} pleural thickening.",),
    "cardiomegaly": ("Heart size is borderline, possibly mildly enlarged.", "Possible mild cardiomegaly."),
    "mediastinum": ("The mediastinum may be slightly widened.", "Possible mediastinal widening."),
    "fracture": ("Possible {side} rib fracture.", "A subtle {side} rib fracture cannot be excluded."),
}
NEGATED: dict[str, tuple[str, ...]] = {
    "consolidation": (
        "No focal consolidation.",
        "There is no consolidation.",
        "No evidence of consolidation.",
    ),
    "pneumonia": ("No evidence of pneumonia.", "No findings to suggest pneumonia."),
    "opacity": ("No focal opacity.", "No new opacities."),
    "nodule": ("No pulmonary nodules or masses.", "No suspicious nodule."),
    "atelectasis": ("No atelectasis.", "There is no evidence of atelectasis."),
    "edema": ("No pulmonary edema.", "There is no evidence of pulmonary edema."),
    "effusion": ("No pleural effusion.", "No pleural effusions.", "There is no pleural effusion."),
    "pneumothorax": ("No pneumothorax.", "There is no pneumothorax."),
    "pleural_other": ("No pleural thickening.",),
    "cardiomegaly": (
        "Heart size is normal.",
        "The cardiac silhouette is normal in size.",
        "No cardiomegaly.",
    ),
    "mediastinum": ("The mediastinal contours are not widened.", "No mediastinal widening."),
    "fracture": ("No acute fracture.", "No displaced rib fractures.", "No acute osseous abnormality."),
}
NEGATION_NOUN = {  # for combined negations: "No pleural effusion, pneumothorax, or focal consolidation."
    "consolidation": "focal consolidation",
    "effusion": "pleural effusion",
    "pneumothorax": "pneumothorax",
    "edema": "pulmonary edema",
    "pneumonia": "pneumonia",
    "atelectasis": "atelectasis",
}
IMPRESSION: dict[str, tuple[str, ...]] = {
    "consolidation": ("{Sev} {loc} consolidation.",),
    "pneumonia": ("{Sev} {loc} pneumonia.",),
    "opacity": ("{Sev} {loc} opacity.",),
    "opacity:peripheral": ("{Sev} peripheral opacities in the {loc}.",),
    "nodule": ("{Var} {loc} nodule.",),
    "atelectasis": ("{Sev} {loc} atelectasis.",),
    "edema": ("{Sev} pulmonary edema.",),
    "effusion": ("{Sev} {side} pleural effusion.",),
    "effusion:bilateral": ("{Sev} bilateral pleural effusions.",),
    "pneumothorax": ("{Sev} {side} pneumothorax.",),
    "pleural_other": ("{Side} pleural thickening.",),
    "cardiomegaly": ("{Sev} cardiomegaly.",),
    "mediastinum": ("Widened mediastinum.",),
    "fracture": ("{Var} {side} rib fracture.",),
}
NORMAL_IMPRESSION = (
    "No acute cardiopulmonary process.",
    "No acute intrathoracic abnormality.",
    "No acute cardiopulmonary abnormality.",
)
FILLERS = (
    "PA and lateral views of the chest were obtained.",
    "The lungs are well expanded.",
    "Mild degenerative changes of the thoracic spine.",
    "The visualized upper abdomen is unremarkable.",
    "The hila are unremarkable.",
    "Lung volumes are slightly low.",
    "The patient is slightly rotated.",
    "Comparison with the prior study is limited by differences in technique.",
)
INDICATIONS = (
    "___ year old {sex} with cough and fever, evaluate for pneumonia.",
    "___ year old {sex} with shortness of breath.",
    "History: ___ {sex} with chest pain.",
    "___ year old {sex} status post line placement, assess position.",
    "Evaluate for interval change in pleural effusion.",
    "___ year old {sex} after fall, rule out fracture.",
    "Assess for pneumothorax after procedure.",
    "Preoperative chest radiograph.",
)
COMPARISONS = (
    "___.",
    "Chest radiograph from ___.",
    "None.",
    "Prior study from ___ is available for comparison.",
)
