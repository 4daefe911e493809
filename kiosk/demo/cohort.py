"""Invented student cohort of the demo data: students, IAs, blocks, acquired and owed ELPs.

The first students are personas with fixed numbers, one per case the kiosk must handle
(IA awaiting payment, blocage, AJAC…). The demo login page lists them with their
description. The other students are drawn from a random.Random seeded with a constant,
so two loads with the same arguments create the same cohort. Names, addresses and phone
numbers are invented, and every email address is under example.org.
"""

import random
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta

from ..extensions import db
from ..models import AcquiredElp, Block, BlockCode, Ia, OwedElp, Student
from .programmes import DemoStructure

RANDOM_SEED = 2026
GENERATED_STUDENT_COUNT = 200
EMAIL_DOMAIN = "example.org"

# (code, label, forbids_registration)
BLOCK_CODES = (
    ("BIP", "Interdit d'inscription pédagogique", True),
    ("BFI", "Dette envers l'agence comptable", True),
    ("BIB", "Ouvrages de bibliothèque non rendus", False),
)


@dataclass(frozen=True)
class IaSpec:
    vet_code: str
    state: str = "E"
    payment_state: str = "P"
    years_before: int = 0  # 1 for an IA of the previous academic year


@dataclass(frozen=True)
class BlockSpec:
    code: str
    starts_days_ago: int
    ends_days_ago: int | None = None  # None: the block is still active


@dataclass(frozen=True)
class StudentSpec:
    """A student and their record. The first IA of each year is the principal one."""

    number: str
    last_name: str
    first_name: str
    ias: tuple[IaSpec, ...]
    blocks: tuple[BlockSpec, ...] = ()
    acquired: tuple[str, ...] = ()  # ELP codes, validated the year before
    owed: tuple[str, ...] = ()  # ELP codes owed this year (AJAC)
    email: str | None = None  # None: derived from the name
    description: str = ""  # set on personas only


ACTIVE_BIP = BlockSpec("BIP", starts_days_ago=60)

PERSONA_SPECS = (
    StudentSpec(
        "10000001", "Lefèvre-Ngô", "Zoé", (IaSpec("L3INFO"),),
        description="IA en règle en L3 Informatique : le cas normal",
    ),
    StudentSpec(
        "10000002", "Wiśniewska", "Łucja", (IaSpec("L3AGE", payment_state="A"),),
        description="IA en attente de paiement (L3 AES)",
    ),
    StudentSpec(
        "10000003", "Öztürk", "Şükrü", (IaSpec("L1PO1", state="A"),),
        description="IA annulée (L1 Portail Sciences et Technologies)",
    ),
    StudentSpec(
        "10000004", "N'Diaye", "Aminata", (IaSpec("M1LOGOS"),), blocks=(ACTIVE_BIP,),
        description="Blocage actif « interdit d'inscription pédagogique » (M1 LOGOS)",
    ),
    StudentSpec(
        "10000005", "O'Brien", "Siobhán", (IaSpec("L3AGE"),),
        blocks=(BlockSpec("BIB", starts_days_ago=30), BlockSpec("BIP", 400, ends_days_ago=200)),
        description="Blocage bibliothèque actif et ancien blocage levé : l'IP reste possible (L3 AES)",
    ),
    StudentSpec(
        "10000006", "Đặng", "Thị Ngọc Ánh",
        # The IA of the previous year shows that only the current year's IAs count.
        (IaSpec("L3INFO"), IaSpec("L2INFO", years_before=1)),
        owed=("UCL2BD",),
        description="AJAC en L3 Informatique : doit l'UE « Bases de données » de L2",
    ),
    StudentSpec(
        "10000007", "Παπαδόπουλος", "Γιώργος", (IaSpec("M1LOGOS"),),
        acquired=("LOGS1B2",), email="georgios.papadopoulos@example.org",
        description="M1 LOGOS redoublant : UE de linguistique « Introduction to syntax » acquise",
    ),
    StudentSpec(
        "10000008", "D'Alembert", "Jean", (IaSpec("L3INFO"),),
        acquired=("UCL3POO", "UCL3ARCH"),
        description="L3 Informatique redoublant : UE « Programmation et Conception Orientées "
        "Objet » et option « Architecture machine » acquises",
    ),
    StudentSpec(
        "10000009", "Ștefănescu", "Ioana", (IaSpec("L1PO1"),),
        description="L1 Portail : 4 UE disciplinaires à choisir, dont au moins une de mathématiques",
    ),
    StudentSpec(
        "10000010", "Le Goff", "Anne-Sophie", (IaSpec("L3INFO"), IaSpec("L3AGE")),
        description="Double cursus : IA principale en L3 Informatique, seconde IA en L3 AES",
    ),
    StudentSpec(
        "10000011", "Garnier", "Mathéo", (IaSpec("L3MATINF"),),
        description="Double licence Mathématiques-Informatique : UE partagées avec la L3 Informatique",
    ),
    StudentSpec(
        "10000012", "Rousseau", "Baptiste", (IaSpec("L1INF"),),
        description="IA sur une formation dont la campagne IP web est close (L1 Informatique)",
    ),
    StudentSpec(
        "10000013", "Benali", "Inès", (IaSpec("L1MI"),),
        description="IA sur une formation sans accès à distance (L1 Mathématiques-Informatique)",
    ),
    StudentSpec(
        "10000014", "Martin", "Lucas", (IaSpec("L1INF", payment_state="A"),), blocks=(ACTIVE_BIP,),
        description="Plusieurs motifs à la fois : paiement en attente, blocage, campagne close",
    ),
    StudentSpec(
        "10000015", "Fontaine", "Camille", (IaSpec("M1ASTRO"),),
        description="M1 Physique, parcours astrophysique : bloc non affiché et UE à modules",
    ),
    StudentSpec(
        "10000016", "Lambert", "Hugo", (IaSpec("L2INFO", state="R"),),
        description="IA résiliée (L2 Informatique)",
    ),
    StudentSpec(
        "10000017", "Marchand", "Élodie", (IaSpec("L2INFO"),), owed=("UCL1SYS1",),
        description="AJAC en L2 Informatique : doit l'UE « Systèmes 1 » de L1",
    ),
)

# (student number, description), as the demo login page lists them.
PERSONAS = tuple((spec.number, spec.description) for spec in PERSONA_SPECS)

# --- Pools for the generated students -------------------------------------------------------

# (VET code, weight, typical age at the start of the year)
GENERATED_VETS = (
    ("L1PO1", 60, 18),
    ("L2INFO", 25, 19),
    ("L3INFO", 30, 20),
    ("L3MATINF", 15, 20),
    ("L3AGE", 30, 20),
    ("M1LOGOS", 15, 22),
    ("M1ASTRO", 12, 22),
    ("L1INF", 6, 18),
    ("L1MI", 7, 18),
)
TYPICAL_AGE = {code: age for code, _, age in GENERATED_VETS}

# ELPs that a repeating student may have validated the year before, per VET.
ACQUIRABLE_ELPS = {
    "L1PO1": ("SPUM100", "UCL1BI1", "UCUETS1"),
    "L2INFO": ("UCL2PF", "UCL2BD", "UCL2CIA"),
    "L3INFO": ("UCL3POO", "UCL3ALG2", "UCL3ARCH", "UCL3RES"),
    "L3MATINF": ("SLUM500", "UCL3AL", "SLUMA602"),
    "L3AGE": ("AGE5U51", "AGE5E521", "AGE5E531"),
    "M1LOGOS": ("LOGS1A1", "LOGS1B3", "LOGS2C2"),
    "M1ASTRO": ("AST1U1", "AST1U4"),
}

# ELPs of the year below that an AJAC student may still owe, per VET.
OWEABLE_ELPS = {
    "L2INFO": ("UCL1BI2", "SPUM200", "UCL1SYS1"),
    "L3INFO": ("UCL2BD", "UCL2C", "UCL2PF", "UCL2ALG1"),
    "L3MATINF": ("UCL2OFI", "UCL2SYS2"),
}

FRENCH_FIRST_NAMES = (
    "Emma", "Louise", "Jade", "Alice", "Chloé", "Léa", "Manon", "Camille", "Inès", "Sarah",
    "Juliette", "Clémence", "Maëlys", "Anaïs", "Océane", "Gabriel", "Léo", "Raphaël", "Arthur",
    "Louis", "Lucas", "Jules", "Hugo", "Maël", "Théo", "Noé", "Enzo", "Mathis", "Timothée",
    "Jean-Baptiste", "Marie-Lou", "Pierre-Louis", "Anne-Laure", "Yanis", "Rayan", "Adam",
)
FRENCH_LAST_NAMES = (
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
    "Laurent", "Simon", "Michel", "Leroy", "Roux", "David", "Bertrand", "Morel", "Fournier",
    "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent", "Muller",
    "Lefèvre", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier", "Chevalier",
    "Le Goff", "Le Gall", "Kerhervé", "Da Silva", "De La Fontaine", "Saint-Martin",
    "Lemaire-Duval", "D'Angelo", "L'Hermitte",
)
# (last name, first names) from other languages and scripts.
OTHER_NAMES = (
    ("Nguyễn", "Văn Minh"),
    ("Trần", "Thu Hà"),
    ("Kowalski", "Piotr"),
    ("Wójcik", "Małgorzata"),
    ("Mureșan", "Andreea"),
    ("Popescu", "Mihai"),
    ("Yılmaz", "Elif"),
    ("Çelik", "Emre"),
    ("Σταύρου", "Ελένη"),
    ("Шевченко", "Олена"),
    ("Іваненко", "Андрій"),
    ("Haddad", "Leïla"),
    ("Benyoucef", "Karim"),
    ("Diallo", "Mamadou"),
    ("Traoré", "Awa"),
    ("N'Guessan", "Koffi"),
    ("Silva", "João"),
    ("García Márquez", "María José"),
    ("Müller", "Jürgen"),
    ("Ó Súilleabháin", "Aoife"),
    ("O'Connor", "Niamh"),
    ("Jørgensen", "Søren"),
)
STREETS = (
    "rue des Lilas", "avenue Jean-Jaurès", "boulevard Gambetta", "rue de la République",
    "impasse des Mimosas", "place du Marché", "chemin du Moulin", "rue Victor-Hugo",
    "allée des Tilleuls", "quai de la Garonne", "rue de l'Église", "avenue de la Gare",
)
CITIES = (
    ("33000", "Bordeaux"), ("33400", "Talence"), ("33600", "Pessac"), ("06000", "Nice"),
    ("06560", "Valbonne"), ("06600", "Antibes"), ("75013", "Paris"), ("75005", "Paris"),
    ("93200", "Saint-Denis"), ("69007", "Lyon"), ("69100", "Villeurbanne"),
    ("97400", "Saint-Denis"), ("20000", "Ajaccio"),
)

# Letters that Unicode decomposition does not reduce to ASCII.
ASCII_LETTERS = str.maketrans({
    "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ø": "O", "ø": "o", "ß": "ss",
    "Æ": "Ae", "æ": "ae", "Œ": "Oe", "œ": "oe", "ı": "i",
})


# --- Creation -------------------------------------------------------------------------------


@dataclass
class CohortWriter:
    """Writer of students and their records to the session, with contact details drawn from rng."""

    structure: DemoStructure
    year: int
    today: date
    rng: random.Random
    emails: set[str] = field(default_factory=set)
    # Students waiting for a flush before their blocks, acquired and owed ELPs can be added.
    pending: list[tuple[Student, StudentSpec]] = field(default_factory=list)

    def add_student(self, spec: StudentSpec) -> None:
        student = Student(
            number=spec.number,
            last_name=spec.last_name,
            first_name=spec.first_name,
            birth_date=self.draw_birth_date(spec.ias[0].vet_code),
            email=self.make_email(spec),
            **self.draw_contact_details(),
        )
        principal_years: set[int] = set()
        for ia_spec in spec.ias:
            ia_year = self.year - ia_spec.years_before
            student.ias.append(Ia(
                year=ia_year,
                vet=self.structure.vets[ia_spec.vet_code],
                state=ia_spec.state,
                payment_state=ia_spec.payment_state,
                is_principal=ia_year not in principal_years,
            ))
            principal_years.add(ia_year)
        db.session.add(student)
        self.pending.append((student, spec))

    def add_pending_records(self) -> None:
        db.session.flush()
        for student, spec in self.pending:
            for block in spec.blocks:
                ends_on = None if block.ends_days_ago is None else self.days_ago(block.ends_days_ago)
                db.session.add(Block(
                    student_id=student.id,
                    code=block.code,
                    starts_on=self.days_ago(block.starts_days_ago),
                    ends_on=ends_on,
                ))
            for code in spec.acquired:
                acquired = AcquiredElp(student_id=student.id, elp_id=self.elp_id(code), year=self.year - 1)
                db.session.add(acquired)
            for code in spec.owed:
                db.session.add(OwedElp(student_id=student.id, elp_id=self.elp_id(code), year=self.year))
        self.pending.clear()

    def days_ago(self, days: int) -> date:
        return self.today - timedelta(days=days)

    def elp_id(self, code: str) -> int:
        return self.structure.elps[code].id

    def draw_birth_date(self, vet_code: str) -> date:
        age = TYPICAL_AGE[vet_code] + self.rng.choice((0, 0, 0, 1, 1, 2, 4))
        return date(self.year - age, self.rng.randint(1, 12), self.rng.randint(1, 28))

    def draw_contact_details(self) -> dict:
        """Draw a phone number and a French postal address. About 1 student in 20 gets neither."""
        if self.rng.random() < 0.05:
            return {"phone": None, "address_line": None, "postal_code": None, "city": None, "country": None}
        postal_code, city = self.rng.choice(CITIES)
        digits = " ".join(f"{self.rng.randint(0, 99):02d}" for _ in range(4))
        return {
            "phone": f"0{self.rng.choice('67')} {digits}",
            "address_line": f"{self.rng.randint(1, 120)} {self.rng.choice(STREETS)}",
            "postal_code": postal_code,
            "city": city,
            "country": "France",
        }

    def make_email(self, spec: StudentSpec) -> str:
        """Return the spec's email, or else a new first.last@example.org address in ASCII.

        A repeated address gets a number (leo.boyer2@…). A name without Latin letters gets
        etu<student number>@example.org.
        """
        if spec.email is not None:
            self.emails.add(spec.email)
            return spec.email
        first, last = ascii_slug(spec.first_name), ascii_slug(spec.last_name)
        local_part = f"{first}.{last}" if first and last else f"etu{spec.number}"
        email = f"{local_part}@{EMAIL_DOMAIN}"
        suffix = 2
        while email in self.emails:
            email = f"{local_part}{suffix}@{EMAIL_DOMAIN}"
            suffix += 1
        self.emails.add(email)
        return email


def ascii_slug(name: str) -> str:
    """Return the name in lower-case ASCII, with hyphens between words ("Thị Ngọc Ánh" → "thi-ngoc-anh")."""
    decomposed = unicodedata.normalize("NFKD", name.translate(ASCII_LETTERS))
    ascii_only = decomposed.encode("ascii", "ignore").decode().lower().replace("'", "")
    return "-".join(re.findall(r"[a-z0-9]+", ascii_only))


def draw_generated_student(rng: random.Random, number: str) -> StudentSpec:
    codes = [code for code, _, _ in GENERATED_VETS]
    weights = [weight for _, weight, _ in GENERATED_VETS]
    vet_code = rng.choices(codes, weights)[0]

    if rng.random() < 0.15:
        last_name, first_name = rng.choice(OTHER_NAMES)
    else:
        last_name, first_name = rng.choice(FRENCH_LAST_NAMES), rng.choice(FRENCH_FIRST_NAMES)

    state, payment_state = draw_ia_states(rng)
    return StudentSpec(
        number=number,
        last_name=last_name,
        first_name=first_name,
        ias=(IaSpec(vet_code, state, payment_state),),
        blocks=draw_blocks(rng),
        acquired=draw_subset(rng, ACQUIRABLE_ELPS.get(vet_code, ()), probability=0.08, at_most=2),
        owed=draw_subset(rng, OWEABLE_ELPS.get(vet_code, ()), probability=0.10, at_most=1),
    )


def draw_ia_states(rng: random.Random) -> tuple[str, str]:
    """Draw (state, payment_state): mostly E/P, then E/A, A, R and C."""
    draw = rng.random()
    if draw < 0.85:
        return "E", "P"
    if draw < 0.93:
        return "E", "A"
    if draw < 0.96:
        return "A", "P"
    if draw < 0.98:
        return "R", "P"
    return "C", "A"


def draw_blocks(rng: random.Random) -> tuple[BlockSpec, ...]:
    """Draw an active library block for about 1 student in 10 and a BIP for about 1 in 30."""
    blocks = []
    if rng.random() < 0.10:
        blocks.append(BlockSpec("BIB", starts_days_ago=rng.randint(5, 200)))
    if rng.random() < 0.03:
        blocks.append(BlockSpec("BIP", starts_days_ago=rng.randint(5, 200)))
    return tuple(blocks)


def draw_subset(
    rng: random.Random, codes: tuple[str, ...], probability: float, at_most: int
) -> tuple[str, ...]:
    """Return, with the given probability, 1 to at_most codes drawn from codes, else none."""
    if not codes or rng.random() >= probability:
        return ()
    return tuple(rng.sample(codes, rng.randint(1, min(at_most, len(codes)))))


def create_block_codes() -> None:
    for code, label, forbids_registration in BLOCK_CODES:
        db.session.add(BlockCode(code=code, label=label, forbids_registration=forbids_registration))


def create_cohort(structure: DemoStructure, year: int, today: date) -> list[tuple[str, str]]:
    """Add the block codes, the personas and the generated students to the session and flush.

    year is the academic year of the IAs. Block dates are counted back from today.
    Returns the personas as (student number, description in French).
    """
    create_block_codes()
    rng = random.Random(RANDOM_SEED)
    writer = CohortWriter(structure, year, today, rng)
    for persona in PERSONA_SPECS:
        writer.add_student(persona)
    for index in range(1, GENERATED_STUDENT_COUNT + 1):
        writer.add_student(draw_generated_student(rng, number=f"{20000000 + index}"))
    writer.add_pending_records()
    return list(PERSONAS)
