"""Programme structures ("maquettes") of the demo data, and the function that loads them.

Each VET models the public description of a real programme, called "the source" in the
comments below: course titles, ECTS and choice rules are as the university published them.
The sources give no Apogée codes, so the VET, ELP and LSE codes are invented in Apogée
style (at most 8 characters). The exception is the Université Côte d'Azur syllabus codes
such as SPUM100, which are real and kept. A comment marks each ECTS value that the source
leaves out.

The trees are written with small helpers. `semester`, `ue`, `ecue` and `element` build an
ELP with the lists beneath it. `mandatory` (type O), `choice` (type X) and `optional`
(type F) build a list together with the min/max of the link that hangs it under its
parent. An ELP shared by several trees is a module-level constant used in each of them.
The loader creates it once, so every list refers to the same Elp row.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from ..extensions import db
from ..models import Cip, Elp, ListLink, Lse, LseMember, Nature, Vet

# Apogée limits: ELP and LSE codes up to 8 characters, a VET code up to 8 and its version 3.
MAX_CODE_LENGTH = 8
VET_VERSION_LENGTH = 3


# --- The notation ---------------------------------------------------------------------


@dataclass(frozen=True)
class ListSpec:
    """An LSE, with the rule of the link that hangs it under its parent."""

    code: str
    label: str
    type: str  # O, X or F
    members: tuple["ElementSpec", ...]
    min_chosen: int = 0
    max_chosen: int | None = None
    # When set, the link's closes_on is this many days before the load date.
    closed_days_ago: int | None = None

    def __post_init__(self) -> None:
        check_code_length("LSE", self.code)


@dataclass(frozen=True)
class ElementSpec:
    """An ELP, the lists hung beneath it and the bounds on what is chosen directly beneath it."""

    code: str
    label: str
    nature: str
    ects: Decimal
    lists: tuple[ListSpec, ...] = ()
    is_suspended: bool = False
    min_chosen: int | None = None
    max_chosen: int | None = None
    min_ects: Decimal | None = None
    max_ects: Decimal | None = None

    def __post_init__(self) -> None:
        check_code_length("ELP", self.code)


@dataclass(frozen=True)
class VetSpec:
    """A VET of a CIP, with the O list of its semesters."""

    code: str
    version: str
    label: str
    cip_code: str
    semesters: ListSpec

    def __post_init__(self) -> None:
        check_code_length("VET", self.code)
        if len(self.version) != VET_VERSION_LENGTH:
            raise ValueError(f"VET version {self.version!r} of {self.code} must have 3 characters.")


@dataclass(frozen=True)
class CipSpec:
    code: str
    label: str
    is_web_open: bool


def check_code_length(kind: str, code: str) -> None:
    if not 0 < len(code) <= MAX_CODE_LENGTH:
        raise ValueError(f"{kind} code {code!r} must have 1 to {MAX_CODE_LENGTH} characters.")


def element(code, label, nature, ects, *lists, **options) -> ElementSpec:
    for bound in ("min_ects", "max_ects"):
        if options.get(bound) is not None:
            options[bound] = Decimal(str(options[bound]))
    return ElementSpec(code, label, nature, Decimal(str(ects)), tuple(lists), **options)


def semester(code, label, *lists, **options) -> ElementSpec:
    return element(code, label, "SEM", 30, *lists, **options)


def ue(code, label, ects, *lists, **options) -> ElementSpec:
    return element(code, label, "UE", ects, *lists, **options)


def ecue(code, label, ects, *lists, **options) -> ElementSpec:
    return element(code, label, "ECUE", ects, *lists, **options)


def mandatory(code, label, *members, **options) -> ListSpec:
    return ListSpec(code, label, "O", members, **options)


def choice(code, label, min_chosen, max_chosen, *members, **options) -> ListSpec:
    return ListSpec(code, label, "X", members, min_chosen, max_chosen, **options)


def optional(code, label, max_chosen, *members, **options) -> ListSpec:
    return ListSpec(code, label, "F", members, 0, max_chosen, **options)


def vet(code, version, label, cip_code, semesters_list_code, *semesters) -> VetSpec:
    semesters_list = mandatory(semesters_list_code, f"Semestres — {label}", *semesters)
    return VetSpec(code, version, label, cip_code, semesters_list)


# --- Natures and CIPs ---------------------------------------------------------------------

# (code, label, is_fictive, is_semester)
NATURES = (
    ("SEM", "Semestre", False, True),
    ("UE", "Unité d'enseignement", False, False),
    ("ECUE", "Élément constitutif d'UE", False, False),
    ("OPT", "Option", False, False),
    ("STAGE", "Stage", False, False),
    ("BLOC", "Bloc de structure", True, False),
)

CIPS = (
    CipSpec("DSP", "Collège Droit, science politique, économie et gestion — Bordeaux", True),
    CipSpec("SCI", "Sciences et technologies — Côte d'Azur", True),
    CipSpec("LGS", "Master LOGOS — Paris Cité", True),
    CipSpec("PHY", "Master de physique — Lyon 1", True),
    # The demo gives this CIP only a campaign that is already closed (see load.py).
    CipSpec("INF", "UFR d'informatique — Paris Diderot", True),
    # Accès à distance off: its students cannot do the IP on the web.
    CipSpec("MID", "Département MIDO — Dauphine", False),
)


# --- Université de Bordeaux: L3 AES parcours AGE (maquette 2015-2016, semester 5 only) ------

AGE_S5 = semester(
    "AGES5", "Semestre 5 — L3 AES AGE",
    mandatory(
        "AGE5LO", "UE obligatoires du semestre 5",
        ue(
            "AGE5U51", "UE 5.1 Droit de l'entreprise", 14,
            mandatory(
                "AGE51LO", "Cours de l'UE 5.1",
                # Each course is 3 ECTS of lectures plus 4 of TD in the source.
                ecue("AGE5E511", "Droit du travail", 7),
                ecue("AGE5E512", "Droit commercial", 7),
            ),
        ),
        ue(
            "AGE5U52", "UE 5.2 Gestion et droit", 9,
            choice(
                "AGE52LX", "Gestion et droit : 3 cours au choix parmi 5", 3, 3,
                ecue("AGE5E521", "Gestion des ressources humaines", 3),
                ecue("AGE5E522", "Gestion commerciale", 3),
                ecue("AGE5E523", "Droit des contrats spéciaux", 3),
                ecue("AGE5E524", "Droit des sûretés", 3),
                ecue("AGE5E525", "Mathématiques", 3),
            ),
        ),
        ue(
            "AGE5U53", "UE 5.3 Compétences transverses", 7,
            mandatory(
                "AGE53LO", "Cours de l'UE 5.3",
                ecue("AGE5E531", "Informatique appliquée", 4),
                ecue("AGE5E532", "Langues", 3),
            ),
        ),
    ),
    optional(
        "AGE5LF", "Stage facultatif", 1,
        element("AGE5STG", "Stage facultatif (2 semaines minimum, non crédité)", "STAGE", 0),
        # Demo case of a closed link: the stage had to be declared before this date, so the
        # kiosk must ignore the link and no longer offer the stage.
        closed_days_ago=15,
    ),
)

L3_AES_AGE = vet(
    "L3AGE", "201", "L3 AES parcours Administration et gestion des entreprises", "DSP",
    "L3AGESM", AGE_S5,
)


# --- Université Côte d'Azur: Portail Sciences et Technologies, L2 and L3 Informatique -------
# Maquette 2024 of the Licence Informatique. The "UE Compétences transversales" (UET) ECTS
# are not published: 6 UET make the 36 transverse ECTS of the licence, so each is 6 ECTS.
# The portail maths, electronics and physics UEs count 6 ECTS each, like every
# disciplinary UE of the portail.

UCA_L1_S1 = semester(
    "UCL1S1", "Semestre 1 — Portail Sciences et Technologies",
    mandatory("UCL1S1LO", "UE transversale", ue("UCUETS1", "UE Compétences transversales S1", 6)),
    # The source lists only 2 maths UEs. The cap of 4 is the semester's 4 disciplinary UEs.
    choice(
        "UCL1S1LM", "UE de mathématiques (au moins une)", 1, 4,
        ue("SPUM100", "Mathématiques : Introduction à l'analyse", 6),
        ue("SPUM101", "Mathématiques : Introduction à l'algèbre linéaire", 6),
    ),
    choice(
        "UCL1S1LI", "UE d'informatique (au plus une : L1-BI-1 et L1-IP s'excluent)", 0, 1,
        ue("UCL1BI1", "Bases de l'informatique 1 (Programmation et algorithmique)", 6),
        ue("UCL1IP", "Introduction à la programmation", 6),
    ),
    # The portail has further UEs (chimie, sciences de la Terre, MIASHS) that the source
    # does not list.
    optional(
        "UCL1S1LF", "Autres UE du portail", 3,
        ue("SPUE100", "Électronique : Électronique numérique – Bases", 6),
        ue("SPUP100", "Physique : Mécanique 1", 6),
    ),
    # PO1 rule: the UET and exactly 4 disciplinary UEs.
    min_chosen=5, max_chosen=5,
)

# NOTE: the published ECTS of S2 add up to 27, because Systèmes 1 is 3 ECTS. The draft
# maquette gives no semester total, so no ECTS bound is set.
UCA_L1_S2 = semester(
    "UCL1S2", "Semestre 2 — Portail Sciences et Technologies",
    mandatory(
        "UCL1S2LO", "UE obligatoires du semestre 2",
        ue("UCL1BI2", "Bases de l'informatique 2 (Modèles formels et logique)", 6),
        ue("UCL1SYS1", "Systèmes 1 (Unix, shell)", 3),
        ue("SPUM200", "Mathématiques : Algèbre linéaire & Calculus 2", 6),
        ue("UCUETS2", "UE Compétences transversales S2", 6),
    ),
    choice(
        "UCL1S2LX", "Une UE au choix", 1, 1,
        ue("SPUM202", "Mathématiques : Logique & Arithmétique", 6),
        ue("SPUE200", "Électronique : Communication sans fil du terrestre au spatial", 6),
        ue("SPUE201", "Électronique : Électronique analogique", 6),
    ),
)

L1_PO1 = vet(
    "L1PO1", "241", "L1 Portail Sciences et Technologies (PO1)", "SCI",
    "L1PO1SM", UCA_L1_S1, UCA_L1_S2,
)

UCA_L2_S3 = semester(
    "UCL2S3", "Semestre 3 — L2 Informatique",
    mandatory(
        "UCL2S3LO", "UE obligatoires du semestre 3",
        ue("UCL2PF", "Programmation fonctionnelle", 6),
        ue("UCL2OFI", "Outils formels de l'informatique", 6),
        ue("UCL2BD", "Bases de données", 6),
        ue("UCUETS3", "UE Compétences transversales S3", 6),
    ),
    choice(
        "UCL2S3LX", "Une UE au choix", 1, 1,
        ue("UCL2R", "Algo & Prog avec R", 6),
        ue("SPUM303", "Mathématiques : Éléments de probabilités & Structures algébriques", 6),
        ue("SPUSA301", "Introduction à l'intelligence artificielle", 6),
    ),
)

UCA_L2_S4 = semester(
    "UCL2S4", "Semestre 4 — L2 Informatique",
    mandatory(
        "UCL2S4LO", "UE obligatoires du semestre 4",
        ue("UCL2C", "Programmation C", 6),
        ue("UCL2ALG1", "Algorithmique 1", 6),
        ue("UCL2SYS2", "Systèmes 2", 6),
        ue("UCUETS4", "UE Compétences transversales S4", 6),
    ),
    choice(
        "UCL2S4LX", "Une UE au choix", 1, 1,
        ue("UCL2CIA", "Concepts d'intelligence artificielle", 6),
        ue("UCL2WEB", "Technologies du web", 6),
    ),
)

L2_INFO = vet(
    "L2INFO", "241", "L2 Informatique", "SCI",
    "L2INFOSM", UCA_L2_S3, UCA_L2_S4,
)

# UEs shared by the L3 Informatique and the L3 of the double licence Maths-Info.
ALGO_2 = ue("UCL3ALG2", "Algorithmique 2", 6)
AUTOMATA = ue("UCL3AL", "Automates et langages", 6)
ARCHITECTURE = ue("UCL3ARCH", "Architecture machine", 6)
CRYPTOGRAPHY = ue("UCL3CRYP", "Cryptographie et calcul symbolique", 6)
NETWORKS = ue("UCL3RES", "Réseaux et télécommunication", 6)
COMPILATION = ue("UCL3COMP", "Compilation", 6)
PARADIGMS = ue("UCL3PI", "Paradigmes et interprétation", 6)
GREAT_CONCEPTS = ue("UCL3GC", "Grands concepts de l'Informatique", 6)

UCA_L3_S5 = semester(
    "UCL3S5", "Semestre 5 — L3 Informatique",
    mandatory(
        "UCL3S5LO", "UE obligatoires du semestre 5",
        ue("UCL3POO", "Programmation et Conception Orientées Objet", 6),
        ALGO_2,
        AUTOMATA,
        # ECTS not published: 30 minus the 24 ECTS of the other UEs.
        ue("UCUETS5", "UE Compétences transversales (anglais, compétences transverses) S5", 6),
    ),
    choice("UCL3S5LX", "Option du semestre 5", 1, 1, ARCHITECTURE, CRYPTOGRAPHY),
)

UCA_L3_S6 = semester(
    "UCL3S6", "Semestre 6 — L3 Informatique",
    mandatory(
        "UCL3S6LO", "UE obligatoires du semestre 6",
        NETWORKS,
        COMPILATION,
        # ECTS not published: 30 minus the 24 ECTS of the other UEs.
        ue("UCUETS6", "UE Compétences transversales (anglais, compétences transverses) S6", 6),
    ),
    choice("UCL3S6X1", "Choix d'option 1", 1, 1, PARADIGMS, GREAT_CONCEPTS),
    choice(
        "UCL3S6X2", "Choix d'option 2", 1, 1,
        ue("UCL3SIMU", "Méthodes de simulation informatique", 6),
        ue("UCL3TERD", "Travail encadré d'étude, de recherche et de développement", 6),
    ),
)

L3_INFO = vet(
    "L3INFO", "241", "L3 Informatique", "SCI",
    "L3INFOSM", UCA_L3_S5, UCA_L3_S6,
)

# The maths UEs and UETs of the double licence have no published ECTS. The UEs with known
# ECTS leave 12 per semester for four such UEs, so each is given 3 ECTS. That is why its
# UETs are separate ELPs from the 6-ECTS UETs of the L3 Informatique.
UCA_MI_S5 = semester(
    "UCMIS5", "Semestre 5 — L3 Mathématiques-Informatique",
    mandatory(
        "UCMIS5LO", "UE obligatoires du semestre 5",
        ALGO_2,
        AUTOMATA,
        ue("SLUM500", "Équations différentielles", 3),
        ue("SLUM501", "Théorie de la mesure et intégration", 3),
        ue("SLUM502", "Algèbre multilinéaire", 3),
        ue("UCUEMI5", "UE Compétences transversales S5 (double licence)", 3),
    ),
    choice("UCMIS5LX", "Option d'informatique du semestre 5", 1, 1, ARCHITECTURE, CRYPTOGRAPHY),
)

UCA_MI_S6 = semester(
    "UCMIS6", "Semestre 6 — L3 Mathématiques-Informatique",
    mandatory(
        "UCMIS6LO", "UE obligatoires du semestre 6",
        COMPILATION,
        NETWORKS,
        ue("SLUM600", "Théorie des probabilités", 3),
        ue("SLUM601", "Algèbre et arithmétique", 3),
        ue("UCUEMI6", "UE Compétences transversales S6 (double licence)", 3),
    ),
    choice("UCMIS6X1", "Option d'informatique du semestre 6", 1, 1, PARADIGMS, GREAT_CONCEPTS),
    choice(
        "UCMIS6X2", "Option de mathématiques du semestre 6", 1, 1,
        ue("SLUMA604", "Analyse numérique 2", 3),
        ue("SLUMA602", "Analyse complexe", 3),
    ),
)

L3_MATH_INFO = vet(
    "L3MATINF", "241", "L3 Double licence Mathématiques-Informatique", "SCI",
    "L3MISM", UCA_MI_S5, UCA_MI_S6,
)


# --- Université Paris Cité: Master LOGOS, M1 ----------------------------------------------
# S1 allows two itineraries: block A + two linguistics UEs + the 12-ECTS logic UE, or
# block A + one linguistics UE + two 9-ECTS logic UEs. Both are 4 UEs and 30 ECTS, and the
# semester bounds (4 UEs, 30 ECTS) reject every other mix that the block lists allow.

LOGOS_S1 = semester(
    "LOGS1", "Semestre 1 — M1 LOGOS",
    mandatory(
        "LOG1LA", "Bloc A — Philosophie des sciences",
        ue("LOGS1A1", "Introduction à la philosophie des sciences", 6),
    ),
    choice(
        "LOG1LB", "Bloc B — Linguistique (1 ou 2 UE)", 1, 2,
        ue("LOGS1B1", "Theoretical syntax", 6),
        ue("LOGS1B2", "Introduction to syntax", 6),
        ue("LOGS1B3", "Semantic analysis", 6),
        ue("LOGS1B4", "Language and its interfaces", 6),
    ),
    choice(
        "LOG1LC", "Bloc C — Logique (une UE de 12 ECTS ou deux UE de 9 ECTS)", 1, 2,
        ue("LOGS1C1", "Logic", 9),
        ue("LOGS1C2", "Logic + Algorithmics", 12),
        ue("LOGS1C3", "Algorithms Complexity", 9),
        ue("LOGS1C4", "Algorithms and Information Theory", 9),
    ),
    min_chosen=4, max_chosen=4, min_ects=30, max_ects=30,
)

# S2: exactly 5 UEs of 6 ECTS, 1 or 2 in each block.
LOGOS_S2 = semester(
    "LOGS2", "Semestre 2 — M1 LOGOS",
    choice(
        "LOG2LA", "Bloc A — Philosophy of Science (1 ou 2 UE)", 1, 2,
        ue("LOGS2A1", "Philosophy of mathematics", 6),
        ue("LOGS2A2", "Mathematics for non-specialists", 6),
    ),
    choice(
        "LOG2LB", "Bloc B — Linguistics (1 ou 2 UE)", 1, 2,
        ue("LOGS2B1", "Advanced theoretical syntax", 6),
        ue("LOGS2B2", "Advanced experimental syntax", 6),
        ue("LOGS2B3", "Syntax, semantics, discourse 2", 6),
        ue("LOGS2B4", "Advanced semantics pragmatics", 6),
        ue("LOGS2B5", "Machine learning for NLP1", 6),
        ue("LOGS2B6", "Computational semantics", 6),
    ),
    choice(
        "LOG2LC", "Bloc C — Logic and Computer Science (1 ou 2 UE)", 1, 2,
        ue("LOGS2C1", "Incompleteness and undecidability", 6),
        ue("LOGS2C2", "Set theory", 6),
        ue("LOGS2C3", "Fundamental statistics", 6),
        ue("LOGS2C4", "Data analysis", 6),
        ue("LOGS2C5", "Big Data technologies", 6),
    ),
    min_chosen=5, max_chosen=5, min_ects=30, max_ects=30,
)

M1_LOGOS = vet(
    "M1LOGOS", "221", "M1 LOGOS — logique, philosophie des sciences, linguistique, informatique",
    "LGS", "LOGSM", LOGOS_S1, LOGOS_S2,
)


# --- Université Lyon 1: M1 Physique, parcours astrophysique -------------------------------

ASTRO_S1 = semester(
    "ASTS1", "Semestre 1 — M1 Physique, parcours astrophysique",
    mandatory(
        "AST1LO", "Tronc commun",
        # Fictive: the kiosk shows the four UEs in place of the block. Its ECTS are their sum.
        element(
            "ASTTC", "Tronc commun du M1 Physique", "BLOC", 18,
            mandatory(
                "ASTTCLO", "UE du tronc commun",
                ue("AST1U1", "Physique des milieux condensés", 6),
                ue("AST1U2", "Électromagnétisme et matière", 6),
                ue(
                    "AST1U3", "Préparation à l'insertion professionnelle", 3,
                    mandatory(
                        "AST13LO", "Modules de l'UE",
                        ecue("AST1E31", "Connaissance de l'environnement professionnel", 1),
                        ecue("AST1E32", "TrIP – rechercher un stage, un emploi", 2),
                    ),
                ),
                ue("AST1U4", "Anglais pour la communication professionnelle niveau 1", 3),
            ),
        ),
    ),
    choice(
        "AST1LX", "Voie", 1, 1,
        element(
            "ASTVPF", "Voie Physique Fondamentale", "OPT", 12,
            mandatory(
                "ASTPFLO", "UE de la voie Physique Fondamentale",
                ue("AST1U5", "Mécanique quantique et applications", 6),
                ue("AST1U6", "Physique des milieux continus", 6),
            ),
        ),
        # Suspended: astrophysics students must take Physique Fondamentale, so the kiosk
        # must not offer this voie. The source does not list its UEs.
        element("ASTVPA", "Voie Physique Appliquée", "OPT", 12, is_suspended=True),
    ),
)

ASTRO_S2 = semester(
    "ASTS2", "Semestre 2 — M1 Physique, parcours astrophysique",
    mandatory(
        "AST2LO", "UE du semestre 2",
        ue("AST2U1", "Physique expérimentale (TP)", 6),
        ue("AST2U2", "Modélisation numérique", 3),
        element("AST2STG", "Stage de 6 semaines en laboratoire", "STAGE", 6),
        ue("AST2U4", "Astrophysique : évolution de l'Univers et cycle des éléments", 3),
        ue("AST2U5", "Mécanique quantique avancée", 3),
        ue("AST2U6", "Physique atomique et moléculaire", 3),
        ue("AST2U7", "Physique statistique des systèmes en interaction et transitions de phase", 3),
        ue("AST2U8", "Relativité générale", 3),
    ),
)

M1_ASTRO = vet(
    "M1ASTRO", "231", "M1 Physique, parcours astrophysique", "PHY",
    "ASTSM", ASTRO_S1, ASTRO_S2,
)


# --- Université Paris Diderot: L1 Informatique (2012-2013) ---------------------------------

P7_L1_S1 = semester(
    "P7S1", "Semestre 1 — L1 Informatique",
    mandatory(
        "P71LO", "UE obligatoires du semestre 1",
        ue("P7IF1", "Initiation à la programmation (Java)", 6),
        ue("P7IS1", "Initiation aux systèmes d'exploitation", 3),
        ue("P7PF1", "Principe de fonctionnement des machines binaires", 3),
        ue("P7OBI", "Outils bureautique et internet", 3),
        ue("P7MM1", "Mathématiques élémentaires", 9),
    ),
    # "UE libres": one 6-ECTS UE or two 3-ECTS UEs, to reach the semester's 30 ECTS.
    choice(
        "P71LX", "UE libres (6 ECTS au total)", 1, 2,
        ue("P7BC1", "Biologie cellulaire et moléculaire expérimentale", 6),
        ue("P7CH1", "Chimie : Atomes et molécules", 6),
        ue("P7PH1", "Physique", 6),
        ue("P7DV1", "Diversité et évolution des organismes vivants", 6),
        ue("P7AR1", "Géosciences : Actualité de la recherche", 3),
        ue("P7TB1", "La Terre est bleue comme une orange", 3),
        ue("P7PA1", "Géosciences : Panorama 1", 3),
        ue("P7LM1", "Langage mathématique", 3),
        ue("P7SD1", "Statistiques descriptives", 3),
        ue("P7OP1", "Physique de la lumière", 3),
    ),
    min_ects=30, max_ects=30,
)

P7_L1_S2 = semester(
    "P7S2", "Semestre 2 — L1 Informatique",
    mandatory(
        "P72LO", "UE obligatoires du semestre 2",
        ue("P7TO2", "Types de données et objets", 6),
        ue("P7CI2", "Concepts informatiques", 3),
        ue("P7IO2", "Internet et outils (HTML, CSS, PHP, MySQL)", 6),
        ue("P7MI2", "Mathématiques générales", 9),
        ue("P7ANG2", "Anglais (autoformation)", 3),
        ue("P7LIB2", "UE libre (cours au choix ou stage)", 3),
    ),
)

P7_L1_INFO = vet(
    "L1INF", "121", "L1 Informatique (Paris Diderot)", "INF",
    "P7L1SM", P7_L1_S1, P7_L1_S2,
)


# --- Université Paris Dauphine-PSL: L1 Mathématiques-Informatique (2023-2024, S1 only) -----
# The programme page gives no ECTS: these values are invented so that S1 totals 30.

DAUPHINE_S1 = semester(
    "DMIS1", "Semestre 1 — L1 Mathématiques-Informatique",
    mandatory(
        "DMI1LO", "UE obligatoires",
        ue("DMIPRC", "Pré-rentrée : calcul", 1),
        ue("DMIPRR", "Pré-rentrée : raisonnement", 1),
        ue("DMIAN1", "Analyse 1", 6),
        ue("DMIAL1", "Algèbre linéaire 1", 6),
        ue("DMIAP1", "Algorithmique et programmation 1", 6),
    ),
    mandatory(
        "DMI1LC", "UE complémentaires",
        ue("DMIMIC", "Introduction à la microéconomie", 4),
        ue("DMIANG1", "Anglais 1", 3),
        ue("DMIENJ", "Enjeux écologiques du 21ème siècle", 1),
    ),
    choice(
        "DMI1LX", "UE optionnelle (une au choix)", 1, 1,
        ue("DMIPEC", "Problèmes économiques", 2),
        ue("DMIORG", "Organisation des entreprises", 2),
        ue("DMIESP1", "Espagnol 1", 2),
        ue("DMIALL1", "Allemand 1", 2),
        ue("DMISPO", "Sport", 2),
    ),
)

DAUPHINE_L1_MI = vet(
    "L1MI", "231", "L1 Mathématiques-Informatique (Dauphine)", "MID",
    "DMISM", DAUPHINE_S1,
)


VETS = (
    L3_AES_AGE,
    L1_PO1,
    L2_INFO,
    L3_INFO,
    L3_MATH_INFO,
    M1_LOGOS,
    M1_ASTRO,
    P7_L1_INFO,
    DAUPHINE_L1_MI,
)


# --- Loading ------------------------------------------------------------------------------


@dataclass
class DemoStructure:
    """The rows created by create_structure, keyed by code."""

    cips: dict[str, Cip]
    vets: dict[str, Vet]
    elps: dict[str, Elp]


class StructureLoader:
    """Writer of the specs' rows to the session, with one row per ELP or LSE code.

    An ELP or LSE used by several trees is added once. The ListLink rows need the ids of
    their parents, so they are created by add_pending_links after a flush.
    """

    def __init__(self, today: date) -> None:
        self.today = today
        self.elps: dict[str, Elp] = {}
        self.lses: dict[str, Lse] = {}
        self.specs_by_code: dict[tuple[str, str], ElementSpec | ListSpec] = {}
        # (parent row, list spec, position among the parent's lists)
        self.pending_links: list[tuple[Vet | Elp, ListSpec, int]] = []

    def register(self, kind: str, spec: ElementSpec | ListSpec) -> bool:
        """Record the spec under its code and return whether the code was recorded before.

        Raises ValueError if the code was recorded for other contents.
        """
        known = self.specs_by_code.get((kind, spec.code))
        if known is None:
            self.specs_by_code[(kind, spec.code)] = spec
            return False
        if known != spec:
            raise ValueError(f"{kind} code {spec.code} is used for two different definitions.")
        return True

    def add_vet(self, spec: VetSpec, cip: Cip) -> Vet:
        row = Vet(code=spec.code, version=spec.version, label=spec.label, cip=cip)
        db.session.add(row)
        self.pending_links.append((row, spec.semesters, 0))
        self.add_lse(spec.semesters)
        return row

    def add_lse(self, spec: ListSpec) -> Lse:
        if self.register("LSE", spec):
            return self.lses[spec.code]
        row = Lse(code=spec.code, label=spec.label, type=spec.type)
        for position, member_spec in enumerate(spec.members):
            row.members.append(LseMember(elp=self.add_elp(member_spec), position=position))
        db.session.add(row)
        self.lses[spec.code] = row
        return row

    def add_elp(self, spec: ElementSpec) -> Elp:
        if self.register("ELP", spec):
            return self.elps[spec.code]
        row = Elp(
            code=spec.code,
            label=spec.label,
            nature_code=spec.nature,
            ects=spec.ects,
            is_suspended=spec.is_suspended,
            min_chosen=spec.min_chosen,
            max_chosen=spec.max_chosen,
            min_ects=spec.min_ects,
            max_ects=spec.max_ects,
        )
        db.session.add(row)
        self.elps[spec.code] = row
        for position, list_spec in enumerate(spec.lists):
            self.add_lse(list_spec)
            self.pending_links.append((row, list_spec, position))
        return row

    def add_pending_links(self) -> None:
        db.session.flush()
        for parent, list_spec, position in self.pending_links:
            link = ListLink(
                lse_id=self.lses[list_spec.code].id,
                position=position,
                min_chosen=list_spec.min_chosen,
                max_chosen=list_spec.max_chosen,
                closes_on=self.closing_date(list_spec),
            )
            if isinstance(parent, Vet):
                link.vet_id = parent.id
            else:
                link.parent_elp_id = parent.id
            db.session.add(link)
        self.pending_links.clear()

    def closing_date(self, spec: ListSpec) -> date | None:
        if spec.closed_days_ago is None:
            return None
        return self.today - timedelta(days=spec.closed_days_ago)


def create_natures() -> None:
    for code, label, is_fictive, is_semester in NATURES:
        db.session.add(Nature(code=code, label=label, is_fictive=is_fictive, is_semester=is_semester))


def create_structure(today: date) -> DemoStructure:
    """Add the natures, CIPs, VETs and their trees to the session and flush.

    today dates the link that the demo closes in the past.
    """
    create_natures()
    cips = {spec.code: Cip(code=spec.code, label=spec.label, is_web_open=spec.is_web_open) for spec in CIPS}
    db.session.add_all(cips.values())

    loader = StructureLoader(today)
    vets = {spec.code: loader.add_vet(spec, cips[spec.cip_code]) for spec in VETS}
    loader.add_pending_links()
    db.session.flush()
    return DemoStructure(cips=cips, vets=vets, elps=loader.elps)
