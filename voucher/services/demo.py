"""Demo data for ``flask --app voucher demo``: the seeds' networks, alliances and projects.

Names of networks, alliances, projects, partners and actions come from the public pages
in ``seeds/`` (ATS Bergamo and ATS Insubria, Piano Territoriale di Conciliazione
2020-2023 and DGR 5755/2021). Tax codes, budgets, rates, people and the partner company
are invented.

Everything is written through the structure services, so the demo is validated and
audited exactly as if an admin had typed it in. Each object is looked up first by its
unique key, so running the loader again creates nothing and never fails. Callers commit.
"""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple, TypeVar

from flask import current_app
from PIL import Image, ImageDraw
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from stdnum import luhn
from stdnum.it import codicefiscale
from werkzeug.datastructures import FileStorage

from voucher.models import (
    Alliance,
    Allocation,
    Application,
    Claim,
    Dependant,
    DependantKind,
    Eligibility,
    Employment,
    EmploymentStatus,
    Measure,
    MeasureKind,
    Network,
    Organisation,
    OrganisationKind,
    OrganisationSize,
    Payout,
    Programme,
    Project,
    Role,
    Service,
    ServiceKind,
    ServiceUnit,
    Slot,
    User,
    Voucher,
)
from voucher.models.base import utcnow
from voucher.services import (
    accounts,
    applications,
    audit,
    bookings,
    catalogue,
    claims,
    clock,
    payouts,
    review,
    structure,
    uploads,
)

# These accounts exist for demos and local trials only: never load the demo in production.
DEMO_PASSWORD = "demo-password"  # noqa: S105

T = TypeVar("T")


def eur(amount: int) -> int:
    """Whole euros as cents, so the data below reads like a budget."""
    return amount * 100


def _codice_fiscale(first15: str) -> str:
    """A person's codice fiscale: the 15 characters given plus their check letter."""
    return first15 + codicefiscale.calc_check_digit(first15)


# --- programmes -------------------------------------------------------------------------

# Both calls really ended by 2023; their periods here run to the end of 2027 so that the
# demo's projects and measures are open today (November 2026) and a worker can apply.
# Fixed dates keep reruns identical; move them forward when they have passed.
PROGRAMMES: dict[str, dict[str, Any]] = {
    "ptc": {
        "name": "Piano Territoriale di Conciliazione 2020-2023",
        "legal_reference": "DGR n. 2398 del 11/11/2019",
        "description": (
            "Linee guida regionali per i Piani territoriali di conciliazione vita-lavoro: "
            "le Reti territoriali guidate dalle ATS finanziano i progetti delle Alleanze "
            "locali, partenariati pubblico-privati rivolti a lavoratori e imprese."
        ),
        "starts_on": date(2020, 1, 1),
        "ends_on": date(2027, 12, 31),
        "max_regional_share_pct": 70,
        "regional_cap_cents": None,
    },
    "dgr5755": {
        "name": "Interventi di conciliazione e welfare aziendale per micro e piccole imprese",
        "legal_reference": "D.G.R. 21 dicembre 2021 n. XI/5755",
        "description": (
            "Avviso per partenariati pubblico-privati di almeno quattro enti, di cui almeno "
            "uno pubblico, con progetti di conciliazione e welfare aziendale per i dipendenti "
            "di micro e piccole imprese. Contributo regionale fino al 70% del costo e "
            "comunque non oltre € 50.000 per progetto."
        ),
        "starts_on": date(2022, 4, 6),
        "ends_on": date(2027, 12, 31),
        "max_regional_share_pct": 70,
        "regional_cap_cents": eur(50_000),
    },
}

# --- networks ---------------------------------------------------------------------------

NETWORKS: dict[str, dict[str, str]] = {
    "bergamo": {
        "name": "Rete territoriale di conciliazione ATS Bergamo",
        "ats_name": "ATS di Bergamo",
        "territory": "Provincia di Bergamo",
    },
    "insubria": {
        "name": "Rete territoriale di conciliazione ATS Insubria",
        "ats_name": "ATS dell'Insubria",
        "territory": "Province di Varese e Como",
    },
}

# --- organisations ----------------------------------------------------------------------

PUBLIC = OrganisationKind.PUBLIC_BODY
COMPANY = OrganisationKind.COMPANY
COOP = OrganisationKind.COOPERATIVE
ASSOCIATION = OrganisationKind.ASSOCIATION
MICRO, SMALL, MEDIUM, LARGE = (
    OrganisationSize.MICRO,
    OrganisationSize.SMALL,
    OrganisationSize.MEDIUM,
    OrganisationSize.LARGE,
)


class Org(NamedTuple):
    name: str
    kind: OrganisationKind
    size: OrganisationSize
    province: str  # picks the tax office code of the invented codice fiscale
    municipality: str = ""  # left empty where the seeds do not say where the seat is


ORGANISATIONS: dict[str, Org] = {
    # ATS Bergamo. The seeds name only each alliance's lead territory; every other partner
    # below is INVENTED for the demo (real municipalities, invented partnerships; invented
    # cooperatives and associations), so that each alliance has the four partners it needs.
    "albino": Org("Comune di Albino", PUBLIC, MEDIUM, "BG", "Albino"),
    "up_seriana_sup": Org(
        "Ufficio di Piano Valle Seriana Superiore e Valle di Scalve", PUBLIC, SMALL, "BG"
    ),
    "nembro": Org("Comune di Nembro", PUBLIC, SMALL, "BG", "Nembro"),  # invented partner
    "telaio": Org("Il Telaio della Valle Coop. Soc.", COOP, SMALL, "BG", "Albino"),  # invented
    "bergamo": Org("Comune di Bergamo", PUBLIC, LARGE, "BG", "Bergamo"),
    "ic_bergamo": Org(  # invented
        "Istituto comprensivo statale Bergamo Nord", PUBLIC, MEDIUM, "BG", "Bergamo"
    ),
    "genitori_bg": Org(  # invented
        "Associazione genitori Scuole Insieme", ASSOCIATION, MICRO, "BG", "Bergamo"
    ),
    "tempo_condiviso": Org(  # invented
        "Tempo Condiviso Coop. Soc.", COOP, SMALL, "BG", "Bergamo"
    ),
    "azienda_isola": Org("Azienda Isola Bergamasca e Bassa Val San Martino", PUBLIC, MEDIUM, "BG"),
    "calusco": Org("Comune di Calusco d'Adda", PUBLIC, SMALL, "BG", "Calusco d'Adda"),  # invented
    "ponte_sp": Org(  # invented partner
        "Comune di Ponte San Pietro", PUBLIC, SMALL, "BG", "Ponte San Pietro"
    ),
    "isola_solidale": Org(  # invented
        "Isola Solidale Coop. Soc.", COOP, SMALL, "BG", "Ponte San Pietro"
    ),
    "up_imagna": Org(
        "Ufficio di Piano Valle Imagna - Villa d'Almè", PUBLIC, SMALL, "BG", "Villa d'Almè"
    ),
    "cm_imagna": Org("Comunità Montana Valle Imagna", PUBLIC, SMALL, "BG"),  # invented partner
    "almenno": Org(  # invented partner
        "Comune di Almenno San Bartolomeo", PUBLIC, SMALL, "BG", "Almenno San Bartolomeo"
    ),
    "tatto": Org("Tatto Gentile Coop. Soc.", COOP, SMALL, "BG", "Villa d'Almè"),  # invented
    "seriate": Org("Comune di Seriate", PUBLIC, MEDIUM, "BG", "Seriate"),
    "grumello": Org("Comune di Grumello del Monte", PUBLIC, SMALL, "BG", "Grumello del Monte"),
    "fare_insieme": Org("Fare Insieme Coop. Soc.", COOP, SMALL, "BG", "Seriate"),  # invented
    "famiglie_seriate": Org(  # invented
        "Associazione Famiglie in Rete", ASSOCIATION, MICRO, "BG", "Seriate"
    ),
    # ATS Insubria: partners as the seeds list them.
    "tradate": Org(
        "Comune di Tradate - Ufficio di Piano di Tradate", PUBLIC, MEDIUM, "VA", "Tradate"
    ),
    "up_arcisate": Org("Ufficio di Piano di Arcisate", PUBLIC, SMALL, "VA", "Arcisate"),
    "up_sesto": Org("Ufficio di Piano di Sesto Calende", PUBLIC, SMALL, "VA", "Sesto Calende"),
    "aquilone": Org("L'Aquilone Coop. Soc.", COOP, SMALL, "VA"),
    "arca": Org("L'Arca Coop. Soc.", COOP, SMALL, "VA"),
    "baobab": Org("Baobab Coop. Soc.", COOP, SMALL, "VA"),
    "itaca": Org("Itaca Coop. Soc.", COOP, SMALL, "VA"),
    "csv_insubria": Org("CSV Insubria", ASSOCIATION, SMALL, "VA"),
    "rete_giunca": Org("Rete Giunca", ASSOCIATION, MICRO, "VA"),
    # INVENTED: the partner company whose employees are the demo workers.
    "officine": Org("Officine Tradatesi S.r.l.", COMPANY, SMALL, "VA", "Tradate"),
    "erbese": Org("Consorzio erbese servizi alla persona", PUBLIC, MEDIUM, "CO", "Erba"),
    "olgiatese": Org("Consorzio Servizi Sociali Olgiatese", PUBLIC, SMALL, "CO", "Olgiate Comasco"),
    "tecum": Org(
        "Tecum - Ufficio di Piano di Mariano Comense", PUBLIC, SMALL, "CO", "Mariano Comense"
    ),
    "asci": Org("ASCI - Ufficio di Piano di Lomazzo", PUBLIC, SMALL, "CO", "Lomazzo"),
    "ascl": Org("Azienda Sociale Comasca e Lariana", PUBLIC, MEDIUM, "CO", "Como"),
    "centro_lario": Org("Azienda Sociale Centro Lario e Valli", PUBLIC, SMALL, "CO"),
    "seme": Org("Il Seme Coop. Sociale", COOP, SMALL, "CO"),
    "abs": Org("ABS Assistenza alla famiglia Coop. Sociale", COOP, SMALL, "CO"),
    "medio_olona": Org(
        "Azienda Speciale Consortile Medio Olona servizi alla persona", PUBLIC, MEDIUM, "VA"
    ),
    "marnate": Org("Comune di Marnate", PUBLIC, SMALL, "VA", "Marnate"),
    "castellanza": Org("Comune di Castellanza", PUBLIC, SMALL, "VA", "Castellanza"),
    "olgiate_olona": Org("Comune di Olgiate Olona", PUBLIC, SMALL, "VA", "Olgiate Olona"),
    "gorla_minore": Org("Comune di Gorla Minore", PUBLIC, SMALL, "VA", "Gorla Minore"),
    "fagnano": Org("Comune di Fagnano Olona", PUBLIC, SMALL, "VA", "Fagnano Olona"),
    "busto": Org("Comune di Busto Arsizio", PUBLIC, LARGE, "VA", "Busto Arsizio"),
    "up_gallarate": Org("Ufficio di Piano di Gallarate", PUBLIC, SMALL, "VA", "Gallarate"),
    "up_somma": Org("Ufficio di Piano di Somma Lombardo", PUBLIC, SMALL, "VA", "Somma Lombardo"),
    "totem": Org("Coop. Sociale Totem", COOP, SMALL, "VA"),
    "cuveglio": Org("Comune di Cuveglio", PUBLIC, MICRO, "VA", "Cuveglio"),
    "cm_verbano": Org("Comunità montana Valli del Verbano", PUBLIC, SMALL, "VA"),
    "cuvio": Org("Comune di Cuvio", PUBLIC, MICRO, "VA", "Cuvio"),
    "casalzuigno": Org("Comune di Casalzuigno", PUBLIC, MICRO, "VA", "Casalzuigno"),
    "orino": Org("Comune di Orino", PUBLIC, MICRO, "VA", "Orino"),
}

# Digits 8-10 of an Italian organisation's codice fiscale / partita IVA: the tax office.
TAX_OFFICE = {"VA": "012", "CO": "013", "BG": "016"}
# Public bodies' and associations' codici fiscali usually start with 8 and 9; companies
# and cooperatives use their partita IVA, which we give them too.
FIRST_DIGIT = {PUBLIC: "8", ASSOCIATION: "9", COMPANY: "0", COOP: "0"}


def organisation_tax_code(org: Org) -> str:
    """An invented but valid 11-digit codice fiscale, derived from the name so reruns agree."""
    serial = int(hashlib.sha256(org.name.encode()).hexdigest(), 16) % 999_999 + 1
    body = f"{FIRST_DIGIT[org.kind]}{serial:06d}{TAX_OFFICE[org.province]}"
    return body + luhn.calc_check_digit(body)


# --- alliances --------------------------------------------------------------------------

# key -> (network, name, lead, other partners). Every lead (capofila) is a public body.
ALLIANCES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "valle_seriana": (
        "bergamo",
        "Alleanza locale di conciliazione Valle Seriana",
        "albino",
        ("up_seriana_sup", "nembro", "telaio"),
    ),
    "bergamo": (
        "bergamo",
        "Alleanza locale di conciliazione Comune di Bergamo",
        "bergamo",
        ("ic_bergamo", "genitori_bg", "tempo_condiviso"),
    ),
    "isola": (
        "bergamo",
        "Alleanza locale di conciliazione Isola Bergamasca e Bassa Val San Martino",
        "azienda_isola",
        ("calusco", "ponte_sp", "isola_solidale"),
    ),
    "valle_imagna": (
        "bergamo",
        "Alleanza locale di conciliazione Valle Imagna-Villa d'Almè",
        "up_imagna",
        ("cm_imagna", "almenno", "tatto"),
    ),
    "grumello_seriate": (
        "bergamo",
        "Alleanza locale di conciliazione Grumello del Monte-Seriate",
        "seriate",
        ("grumello", "fare_insieme", "famiglie_seriate"),
    ),
    "tradate": (
        "insubria",
        "Alleanza locale di conciliazione Ambito di Tradate",
        "tradate",
        (
            "up_arcisate",
            "up_sesto",
            "aquilone",
            "arca",
            "baobab",
            "itaca",
            "csv_insubria",
            "rete_giunca",
            "officine",
        ),
    ),
    "erbese": (
        "insubria",
        "Alleanza locale di conciliazione Consorzio erbese",
        "erbese",
        ("olgiatese", "tecum", "asci", "ascl", "centro_lario", "seme", "abs"),
    ),
    "medio_olona": (
        "insubria",
        "Alleanza locale di conciliazione Medio Olona",
        "medio_olona",
        (
            "marnate",
            "castellanza",
            "olgiate_olona",
            "gorla_minore",
            "fagnano",
            "busto",
            "up_gallarate",
            "up_somma",
            "totem",
        ),
    ),
    "valcuvia": (
        "insubria",
        "Alleanza locale di conciliazione Valcuvia",
        "cuveglio",
        ("cm_verbano", "cuvio", "casalzuigno", "orino"),
    ),
}

# --- projects and measures --------------------------------------------------------------

# Application windows: all open on 2026-11-24, within the projects' (extended) periods.
OPENS_ON = date(2026, 1, 1)
CLOSES_ON = date(2027, 12, 31)
SCHOOL_YEAR = {"opens_on": date(2026, 9, 1), "closes_on": date(2027, 6, 30)}
SUMMER = {"opens_on": date(2026, 3, 1), "closes_on": date(2027, 9, 30)}

# Plain Italian, shown to workers before they apply.
DOCS_INVOICE = "Fattura o ricevuta intestata a te, con il servizio acquistato e il periodo."
DOCS_CHILD = (
    "Fattura o ricevuta intestata a te, con il nome del bambino o della bambina "
    "e il periodo di frequenza."
)
DOCS_CARE = (
    "Fattura o ricevuta del servizio di assistenza, con le ore prestate e il nome della "
    "persona assistita. Se la persona ha una disabilità, il verbale di invalidità o di "
    "handicap (legge 104/1992)."
)
DOCS_HOSPITAL = (
    "Fattura o ricevuta dell'assistenza, con date e orari, e la dichiarazione di ricovero "
    "rilasciata dall'ospedale."
)
DOCS_COMPANY = "Preventivo o fattura della consulenza, intestato all'impresa."
DOCS_COWORKING = (
    "Contratto o ricevuta dello spazio di coworking, con il periodo di utilizzo della postazione."
)
DOCS_NONE = "Nessun documento: basta prenotare il colloquio."

# Municipalities whose residents may use the coworking desks (Ambito di Tradate, Valcuvia).
TRADATE_AREA = (
    "Tradate, Castelseprio, Castiglione Olona, Gornate Olona, Lonate Ceppino, "
    "Vedano Olona, Venegono Inferiore, Venegono Superiore"
)
VALCUVIA_AREA = (
    "Azzio, Brenta, Casalzuigno, Cassano Valcuvia, Castello Cabiaglio, Cuveglio, Cuvio, "
    "Duno, Ferrera di Varese, Masciago Primo, Orino, Rancio Valcuvia"
)

FIRST, MANUAL = Allocation.FIRST_COME, Allocation.MANUAL
K = MeasureKind


def measure(
    kind: MeasureKind,
    title: str,
    *,
    rate: int,
    cap: int,
    budget: int,
    allocation: Allocation,
    description: str,
    documents: str,
    yearly: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One measure's fields for ``structure.save_measure``, amounts in whole euros."""
    return {
        "kind": kind,
        "title": title,
        "reimbursement_rate_pct": rate,
        "cap_per_voucher_cents": eur(cap),
        "cap_per_worker_year_cents": eur(yearly) if yearly else None,
        "allocated_cents": eur(budget),
        "allocation": allocation,
        "description": description,
        "documents_required": documents,
        "opens_on": OPENS_ON,
        "closes_on": CLOSES_ON,
        **extra,
    }


# The territorial plan's projects started after the plan was validated (June 2020).
PTC_PERIOD = {"starts_on": date(2020, 7, 1), "ends_on": CLOSES_ON}
# DGR 5755 projects were admitted in autumn 2022 and lasted a year; extended like above.
DGR5755_PERIOD = {"starts_on": date(2022, 10, 1), "ends_on": CLOSES_ON}

# Totals and regional shares in whole euros; the partners co-fund the rest (>= 30%).
PROJECTS: tuple[dict[str, Any], ...] = (
    {
        "alliance": "valle_seriana",
        "programme": "ptc",
        "title": "Beatrice 3.0: Persone, aziende, comuni e territorio",
        "description": (
            "Voucher per i servizi di cura di anziani e persone con disabilità e "
            "accompagnamento delle imprese della Valle Seriana al welfare aziendale."
        ),
        **PTC_PERIOD,
        "total": 95_000,
        "regional": 66_500,
        "measures": (
            measure(
                K.HOME_CARE,
                "Voucher per l'assistenza di familiari anziani e disabili",
                rate=70,
                cap=1_200,
                yearly=2_400,
                budget=35_000,
                allocation=MANUAL,
                description=(
                    "Rimborso di una parte delle spese per assistenti familiari, "
                    "assistenza domiciliare e centri diurni per un familiare anziano o "
                    "con disabilità."
                ),
                documents=DOCS_CARE,
            ),
            measure(
                K.FAMILY_VOUCHER,
                "Family voucher per i dipendenti delle aziende aderenti",
                rate=80,
                cap=500,
                yearly=1_000,
                budget=30_000,
                allocation=FIRST,
                description=(
                    "Un contributo per i servizi di conciliazione del territorio: nidi, "
                    "baby sitting, centri estivi, assistenza ai familiari."
                ),
                documents=DOCS_INVOICE,
            ),
            measure(
                K.WELFARE_CONSULTING,
                "Accompagnamento delle imprese al welfare aziendale",
                rate=100,
                cap=1_500,
                budget=15_000,
                allocation=MANUAL,
                description=(
                    "Ore di consulenza per le imprese partner che vogliono introdurre "
                    "un piano di welfare aziendale o orari più flessibili."
                ),
                documents=DOCS_COMPANY,
            ),
        ),
    },
    {
        "alliance": "bergamo",
        "programme": "ptc",
        "title": (
            "Tempi accoglienti per le famiglie (rete integrata fra Comune, Scuole e "
            "Famiglie, per la Conciliazione)"
        ),
        "description": (
            "Orari scolastici più lunghi e centri estivi estesi, costruiti insieme da "
            "Comune, scuole e famiglie."
        ),
        **PTC_PERIOD,
        "total": 110_000,
        "regional": 77_000,
        "measures": (
            measure(
                K.AFTER_SCHOOL,
                "Pre-scuola e doposcuola con orari prolungati",
                rate=60,
                cap=400,
                yearly=800,
                budget=40_000,
                allocation=FIRST,
                description=(
                    "Contributo alla retta del pre-scuola e del doposcuola per le famiglie "
                    "in cui entrambi i genitori lavorano."
                ),
                documents=DOCS_CHILD,
                **SCHOOL_YEAR,
            ),
            measure(
                K.SUMMER_CAMP,
                "Centri estivi con orari estesi",
                rate=70,
                cap=600,
                budget=45_000,
                allocation=FIRST,
                description="Contributo alla retta dei centri estivi aperti anche il pomeriggio.",
                documents=DOCS_CHILD,
                **SUMMER,
            ),
            measure(
                K.ORIENTATION,
                "Sportello famiglie: orientamento ai servizi di conciliazione",
                rate=100,
                cap=300,
                budget=5_000,
                allocation=MANUAL,
                description=(
                    "Un colloquio per capire quali servizi e contributi del Comune fanno "
                    "al caso della tua famiglia."
                ),
                documents=DOCS_NONE,
            ),
        ),
    },
    {
        "alliance": "isola",
        "programme": "ptc",
        "title": (
            "Smart Community: progettare insieme per conciliare il tempo di vita con "
            "quello lavorativo"
        ),
        "description": (
            "Servizi di cura e servizi salvatempo per chi lavora nell'Isola Bergamasca, "
            "con uno sportello dedicato alla conciliazione."
        ),
        **PTC_PERIOD,
        "total": 85_000,
        "regional": 59_500,
        "measures": (
            measure(
                K.HOME_CARE,
                "Voucher per servizi di cura a persone anziane e disabili",
                rate=70,
                cap=1_000,
                yearly=2_000,
                budget=40_000,
                allocation=MANUAL,
                description=(
                    "Rimborso di una parte delle spese per l'assistenza a domicilio di un "
                    "familiare anziano o con disabilità."
                ),
                documents=DOCS_CARE,
            ),
            measure(
                K.TIME_SAVING,
                "Servizi salvatempo per i lavoratori delle imprese aderenti",
                rate=50,
                cap=300,
                budget=12_000,
                allocation=FIRST,
                description="Metà del costo di stireria, lavanderia e commissioni.",
                documents=DOCS_INVOICE,
            ),
            measure(
                K.ORIENTATION,
                "Sportello conciliazione dell'Isola",
                rate=100,
                cap=300,
                budget=6_000,
                allocation=MANUAL,
                description="Informazioni e orientamento sui servizi di conciliazione.",
                documents=DOCS_NONE,
            ),
        ),
    },
    {
        "alliance": "valle_imagna",
        "programme": "ptc",
        "title": "Conciliazione con TATTO - CcT",
        "description": "Servizi per la prima infanzia e assistenza a domicilio in Valle Imagna.",
        **PTC_PERIOD,
        "total": 70_000,
        "regional": 45_500,
        "measures": (
            measure(
                K.CHILDCARE,
                "Servizi per la prima infanzia con orari flessibili",
                rate=60,
                cap=800,
                yearly=1_600,
                budget=30_000,
                allocation=FIRST,
                description="Contributo alla retta di nidi e micronidi con orari flessibili.",
                documents=DOCS_CHILD,
            ),
            measure(
                K.HOME_CARE,
                "Assistenza domiciliare a familiari non autosufficienti",
                rate=70,
                cap=1_200,
                budget=25_000,
                allocation=MANUAL,
                description=(
                    "Rimborso di una parte delle ore di assistenza a domicilio per un "
                    "familiare non autosufficiente."
                ),
                documents=DOCS_CARE,
            ),
        ),
    },
    {
        "alliance": "grumello_seriate",
        "programme": "ptc",
        "title": "WELFARE INEDITO - Fare Insieme WI-FI",
        "description": (
            "Voucher welfare per i dipendenti delle imprese partner, consulenza alle "
            "imprese e centri estivi."
        ),
        **PTC_PERIOD,
        "total": 100_000,
        "regional": 70_000,
        "measures": (
            measure(
                K.FAMILY_VOUCHER,
                "Voucher welfare per i dipendenti delle imprese partner",
                rate=80,
                cap=600,
                yearly=1_200,
                budget=45_000,
                allocation=FIRST,
                description="Un contributo per i servizi di cura dei figli e dei familiari.",
                documents=DOCS_INVOICE,
            ),
            measure(
                K.WELFARE_CONSULTING,
                "Consulenza alle imprese per piani di welfare e orari flessibili",
                rate=100,
                cap=1_500,
                budget=20_000,
                allocation=MANUAL,
                description="Ore di consulenza per le imprese partner del progetto.",
                documents=DOCS_COMPANY,
            ),
            measure(
                K.SUMMER_CAMP,
                "Centri estivi per i figli dei lavoratori",
                rate=70,
                cap=500,
                budget=20_000,
                allocation=FIRST,
                description="Contributo alla retta dei centri estivi del territorio.",
                documents=DOCS_CHILD,
                **SUMMER,
            ),
        ),
    },
    {
        "alliance": "tradate",
        "programme": "ptc",
        "title": "Ancora... ELAVOROEFAMIGLIA",
        "description": (
            "Servizi di cura, per l'infanzia e salvatempo per i lavoratori dell'Ambito di "
            "Tradate, family voucher per i dipendenti dei partner e spazi di coworking."
        ),
        **PTC_PERIOD,
        "total": 140_000,
        "regional": 98_000,
        "measures": (
            measure(
                K.HOME_CARE,
                "Assistenza domiciliare a familiari disabili e anziani",
                rate=70,
                cap=1_200,
                yearly=2_400,
                budget=22_000,
                allocation=MANUAL,
                description=(
                    "Rimborso di una parte delle ore di assistenza a domicilio per un "
                    "familiare anziano o con disabilità."
                ),
                documents=DOCS_CARE,
            ),
            measure(
                K.CHILDCARE,
                "Servizi per l'infanzia",
                rate=60,
                cap=800,
                yearly=1_600,
                budget=16_000,
                allocation=FIRST,
                description="Contributo alla retta di nido, micronido o baby sitting.",
                documents=DOCS_CHILD,
            ),
            measure(
                K.HOSPITAL_ASSISTANCE,
                "Assistenza in ospedale diurna e notturna",
                rate=80,
                cap=1_000,
                budget=10_000,
                allocation=MANUAL,
                description=(
                    "Rimborso di una parte del costo di chi assiste in ospedale, di giorno "
                    "o di notte, un tuo familiare ricoverato."
                ),
                documents=DOCS_HOSPITAL,
            ),
            measure(
                K.AFTER_SCHOOL,
                "Doposcuola con orari prolungati e attività specifiche",
                rate=50,
                cap=400,
                budget=10_000,
                allocation=FIRST,
                description="Contributo alla retta del doposcuola con orario prolungato.",
                documents=DOCS_CHILD,
                **SCHOOL_YEAR,
            ),
            measure(
                K.SUMMER_CAMP,
                "Centri estivi con orari estesi, anche per minori con disabilità",
                rate=70,
                cap=700,
                budget=16_000,
                allocation=FIRST,
                description=(
                    "Contributo alla retta dei centri estivi con orari estesi e con "
                    "educatori dedicati ai bambini e ragazzi con disabilità."
                ),
                documents=DOCS_CHILD,
                **SUMMER,
            ),
            measure(
                K.FAMILY_VOUCHER,
                "Family voucher a rimborso per i dipendenti dei partner",
                rate=80,
                cap=500,
                yearly=1_000,
                budget=24_000,
                allocation=FIRST,
                description=(
                    "Per chi lavora in un'organizzazione partner del progetto: rimborso "
                    "delle spese per servizi di conciliazione."
                ),
                documents=DOCS_INVOICE,
            ),
            measure(
                K.TIME_SAVING,
                "SalvaTempo: stireria sociale",
                rate=50,
                cap=300,
                budget=6_000,
                allocation=FIRST,
                description="Metà del costo della stireria sociale, con ritiro e consegna.",
                documents=DOCS_INVOICE,
            ),
            measure(
                K.TIME_SAVING,
                "SalvaTempo: maggiordomo aziendale",
                rate=50,
                cap=300,
                budget=4_000,
                allocation=FIRST,
                description="Commissioni sbrigate per te durante l'orario di lavoro.",
                documents=DOCS_INVOICE,
            ),
            measure(
                K.TIME_SAVING,
                "SalvaTempo: disbrigo pratiche",
                rate=50,
                cap=300,
                budget=4_000,
                allocation=FIRST,
                description="Aiuto con pratiche amministrative, bollette e prenotazioni.",
                documents=DOCS_INVOICE,
            ),
            measure(
                K.COWORKING,
                "Postazioni di coworking per libere professioniste",
                rate=80,
                cap=600,
                yearly=1_200,
                budget=8_000,
                allocation=MANUAL,
                eligibility=Eligibility.RESIDENTS,
                residence_area=TRADATE_AREA,
                description=(
                    "Una postazione in uno spazio di coworking vicino a casa, pensata in "
                    "particolare per le donne libere professioniste residenti nell'Ambito."
                ),
                documents=DOCS_COWORKING,
            ),
        ),
    },
    {
        "alliance": "tradate",
        "programme": "dgr5755",
        "title": (
            "Conciliazione 2.0: percorsi volti al benessere vita-lavoro nelle piccole micro imprese"
        ),
        "code": "3649957",
        "description": (
            "Welfare aziendale e servizi di conciliazione per i dipendenti delle micro e "
            "piccole imprese dell'Ambito di Tradate."
        ),
        **DGR5755_PERIOD,
        "total": 70_000,
        "regional": 49_000,
        "measures": (
            measure(
                K.WELFARE_CONSULTING,
                "Consulenza alle micro e piccole imprese sul piano di welfare aziendale",
                rate=100,
                cap=1_500,
                budget=12_000,
                allocation=MANUAL,
                description="Ore di consulenza per costruire un piano di welfare aziendale.",
                documents=DOCS_COMPANY,
            ),
            measure(
                K.FAMILY_VOUCHER,
                "Voucher conciliazione per i dipendenti di micro e piccole imprese",
                rate=70,
                cap=700,
                yearly=1_400,
                budget=28_000,
                allocation=FIRST,
                description="Un contributo per i servizi di cura dei figli e dei familiari.",
                documents=DOCS_INVOICE,
            ),
            measure(
                K.SUMMER_CAMP,
                "Campi estivi nei periodi di chiusura delle scuole",
                rate=60,
                cap=500,
                budget=12_000,
                allocation=FIRST,
                description="Contributo alla retta dei campi estivi e delle settimane ponte.",
                documents=DOCS_CHILD,
                **SUMMER,
            ),
            measure(
                K.HOME_CARE,
                "Supporto al caregiver familiare",
                rate=70,
                cap=900,
                budget=10_000,
                allocation=MANUAL,
                description=(
                    "Ore di assistenza a domicilio per dare respiro a chi si prende cura "
                    "di un familiare."
                ),
                documents=DOCS_CARE,
            ),
        ),
    },
    {
        "alliance": "erbese",
        "programme": "ptc",
        "title": "Work in synergy with life",
        "description": (
            "Welfare aziendale per le imprese del Comasco, una piattaforma di servizi, "
            "sportelli di orientamento e contributi ai lavoratori delle aziende partner."
        ),
        **PTC_PERIOD,
        "total": 120_000,
        "regional": 84_000,
        "measures": (
            measure(
                K.FAMILY_VOUCHER,
                "Contributi per servizi di conciliazione ai lavoratori delle aziende partner",
                rate=70,
                cap=800,
                yearly=1_600,
                budget=60_000,
                allocation=FIRST,
                description="Un contributo per i servizi di conciliazione scelti in piattaforma.",
                documents=DOCS_INVOICE,
            ),
            measure(
                K.ORIENTATION,
                "Sportelli territoriali di orientamento",
                rate=100,
                cap=300,
                budget=8_000,
                allocation=MANUAL,
                description="Un colloquio per orientarti tra i servizi di conciliazione.",
                documents=DOCS_NONE,
            ),
            measure(
                K.WELFARE_CONSULTING,
                "Formazione e consulenza alle aziende aderenti",
                rate=100,
                cap=1_500,
                budget=20_000,
                allocation=MANUAL,
                description="Ore di formazione e consulenza sul welfare aziendale.",
                documents=DOCS_COMPANY,
            ),
        ),
    },
    {
        # In the seed this DGR 5755 project is proposed by Iraise s.r.l.; the demo files it
        # under the Erbese alliance, whose partners cover the same Cantù, Mariano and
        # Lomazzo areas, because every project here belongs to an alliance.
        "alliance": "erbese",
        "programme": "dgr5755",
        "title": (
            "Terzo tempo! Il tempo del welfare e della salute: strategie per lo sviluppo "
            "di azioni inerenti il welfare aziendale, la conciliazione tempo famiglia tempo "
            "lavoro e la salute in piccole e micro imprese del territorio Canturino, "
            "Marianese e Lomazzese"
        ),
        "code": "3723007",
        "description": (
            "Welfare aziendale, conciliazione e promozione della salute nelle piccole e "
            "micro imprese."
        ),
        **DGR5755_PERIOD,
        "total": 60_000,
        "regional": 42_000,
        "measures": (
            measure(
                K.FAMILY_VOUCHER,
                "Voucher per la cura dei figli nei periodi di chiusura scolastica",
                rate=70,
                cap=600,
                budget=25_000,
                allocation=FIRST,
                description="Contributo a centri estivi, baby sitting e settimane ponte.",
                documents=DOCS_CHILD,
            ),
            measure(
                K.TIME_SAVING,
                "Servizi salvatempo per i dipendenti delle piccole imprese",
                rate=50,
                cap=300,
                budget=10_000,
                allocation=FIRST,
                description="Metà del costo di stireria, lavanderia e commissioni.",
                documents=DOCS_INVOICE,
            ),
            measure(
                K.WELFARE_CONSULTING,
                "Accompagnamento delle piccole imprese a welfare e promozione della salute",
                rate=100,
                cap=1_500,
                budget=12_000,
                allocation=MANUAL,
                description="Ore di consulenza su welfare aziendale e luoghi di lavoro sani.",
                documents=DOCS_COMPANY,
            ),
        ),
    },
    {
        "alliance": "medio_olona",
        "programme": "ptc",
        "title": "La conciliazione 20.20: il lavoro che cambia",
        "description": (
            "Lavoro flessibile nelle pubbliche amministrazioni, piani di welfare e un "
            "servizio integrativo per l'infanzia con punto informativo per le famiglie."
        ),
        **PTC_PERIOD,
        "total": 90_000,
        "regional": 63_000,
        "measures": (
            measure(
                K.CHILDCARE,
                "Servizio integrativo ai servizi per l'infanzia",
                rate=60,
                cap=900,
                yearly=1_800,
                budget=35_000,
                allocation=FIRST,
                description=(
                    "Contributo per spazi gioco e baby sitting quando nido e scuola "
                    "dell'infanzia sono chiusi."
                ),
                documents=DOCS_CHILD,
            ),
            measure(
                K.WELFARE_CONSULTING,
                "Consulenza per il lavoro flessibile nelle pubbliche amministrazioni",
                rate=100,
                cap=1_500,
                budget=15_000,
                allocation=MANUAL,
                description="Ore di consulenza su smart working e orari flessibili.",
                documents=DOCS_COMPANY,
            ),
            measure(
                K.ORIENTATION,
                "Punto informativo per le famiglie",
                rate=100,
                cap=300,
                budget=5_000,
                allocation=MANUAL,
                description="Informazioni sui servizi per l'infanzia e la famiglia.",
                documents=DOCS_NONE,
            ),
        ),
    },
    {
        "alliance": "valcuvia",
        "programme": "ptc",
        # The seed's own en dash.
        "title": "Coworking – patchworking Valcuvia. Cambiare il lavoro per migliorare la vita",  # noqa: RUF001
        "description": (
            "Postazioni di lavoro in uno spazio di coworking vicino a casa per lavoratori "
            "autonomi e dipendenti residenti in Valcuvia."
        ),
        **PTC_PERIOD,
        "total": 45_000,
        "regional": 31_500,
        "measures": (
            measure(
                K.COWORKING,
                "Postazione di lavoro nello spazio coworking della Valcuvia",
                rate=80,
                cap=600,
                yearly=1_200,
                budget=30_000,
                allocation=MANUAL,
                # The seed: for self-employed and employed workers RESIDENT in Valcuvia.
                eligibility=Eligibility.RESIDENTS,
                residence_area=VALCUVIA_AREA,
                description=(
                    "Per lavoratori autonomi e dipendenti residenti in Valcuvia: una "
                    "postazione nello spazio coworking, per lavorare vicino a casa."
                ),
                documents=DOCS_COWORKING,
            ),
        ),
    },
)

# --- people -----------------------------------------------------------------------------

# Invented people: "Mario Rossi" and "Anna Verdi" are the usual Italian placeholder names.
# Workers' codici fiscali follow the real rules (surname, name, birth date, Belfiore code
# of Tradate L319 / Varese L682) so the forms accept them.
USERS: tuple[dict[str, Any], ...] = (
    {
        "email": "admin@demo.example",
        "first_name": "Giorgio",
        "last_name": "Marino",
        "role": Role.ADMIN,
    },
    {
        "email": "lavoratrice@demo.example",
        "first_name": "Anna",
        "last_name": "Verdi",
        "role": Role.WORKER,
        "tax_code": _codice_fiscale("VRDNNA87H58L319"),
        # Invented, valid IBAN, so her reimbursements can go into a payout.
        "iban": "IT67P0306909606000000012345",
    },
    {
        "email": "lavoratore@demo.example",
        "first_name": "Mario",
        "last_name": "Rossi",
        "role": Role.WORKER,
        "tax_code": _codice_fiscale("RSSMRA83P21L682"),
    },
    {
        "email": "hr@demo.example",
        "first_name": "Paola",
        "last_name": "Bianchi",
        "role": Role.HR,
        "organisation": "officine",
    },
    {
        "email": "operatore@demo.example",
        "first_name": "Stefano",
        "last_name": "Galli",
        "role": Role.OPERATOR,
        "alliance": "tradate",
    },
    {
        "email": "ats@demo.example",
        "first_name": "Elena",
        "last_name": "Ricci",
        "role": Role.NETWORK,
        "network": "insubria",
    },
    {
        # The seed lists "Stireria sociale" among the Tradate alliance's SalvaTempo services
        # but not who runs it: the demo gives that role to L'Aquilone, a partner.
        "email": "fornitore@demo.example",
        "first_name": "Davide",
        "last_name": "Conti",
        "role": Role.PROVIDER,
        "organisation": "aquilone",
    },
)

# worker e-mail -> (employer, since, status)
EMPLOYMENTS: dict[str, tuple[str, date, EmploymentStatus]] = {
    "lavoratrice@demo.example": ("officine", date(2021, 3, 1), EmploymentStatus.CONFIRMED),
    "lavoratore@demo.example": ("officine", date(2024, 9, 16), EmploymentStatus.AWAITING_HR),
}
# When HR confirmed the first declaration (fixed, so reruns agree).
CONFIRMED_AT = datetime(2026, 2, 2, 9, 30, tzinfo=UTC)
HR_EMAIL = "hr@demo.example"

# The birth date is explicit: a codice fiscale does not say the century.
DEPENDANTS: dict[str, tuple[dict[str, Any], ...]] = {
    "lavoratrice@demo.example": (
        {
            "kind": DependantKind.CHILD,
            "first_name": "Sofia",
            "last_name": "Verdi",
            "birth_date": date(2019, 5, 4),
            "tax_code": _codice_fiscale("VRDSFO19E44L682"),
            "relationship_label": "figlia",
        },
    ),
}

# What the demo workers have already done, so every role has something to look at:
# worker e-mail -> (measure title, for the first child?, amount in euros, with a claim?)
ACTIVITY: dict[str, tuple[str, bool, int, bool]] = {
    # First-come measure, employment confirmed: granted at once; a receipt is under review.
    "lavoratrice@demo.example": ("Servizi per l'infanzia", True, 400, True),
    # Employment not yet confirmed: the application waits for HR.
    "lavoratore@demo.example": (
        "Family voucher a rimborso per i dipendenti dei partner",
        False,
        300,
        False,
    ),
}
DEMO_RECEIPT = {
    "supplier_name": "Asilo nido Il Girasole soc. coop.",
    # Invented, but with a valid check digit (tax office 012, Varese).
    "supplier_vat": "0482561012" + luhn.calc_check_digit("0482561012"),
    "document_number": "2026/118",
    "amount_cents": 320_00,
}

# --- loading ----------------------------------------------------------------------------

SUMMARY_ORDER = (
    "programme",
    "network",
    "organisation",
    "alliance",
    "project",
    "measure",
    "user",
    "employment",
    "dependant",
    "application",
    "claim",
    "payout",
    "service",
    "booking",
)


class Tally:
    """Counts what the loader created and what it found already there."""

    def __init__(self) -> None:
        self.created: Counter[str] = Counter()
        self.present: Counter[str] = Counter()

    def find(self, session: Session, label: str, stmt: Select[Any]) -> Any | None:
        """The row ``stmt`` finds (counted as already present), or None."""
        row = session.scalars(stmt.limit(1)).first()
        if row is not None:
            self.present[label] += 1
        return row

    def add(self, label: str, row: T) -> T:
        """Count ``row`` as created and return it."""
        self.created[label] += 1
        return row

    def summary(self) -> str:
        def part(counts: Counter[str]) -> str:
            items = [
                f"{counts[label]} {label}{'' if counts[label] == 1 else 's'}"
                for label in SUMMARY_ORDER
                if counts[label]
            ]
            return ", ".join(items) or "nothing"

        return f"created: {part(self.created)}; already present: {part(self.present)}"


def _by_name(model: Any, name: str) -> Select[Any]:
    # Case-insensitive, like the uniqueness check of the structure services.
    return select(model).where(func.lower(model.name) == name.strip().lower())


def _load_programmes(session: Session, tally: Tally) -> dict[str, Programme]:
    """Create the two regional calls."""
    result = {}
    for key, fields in PROGRAMMES.items():
        found = tally.find(session, "programme", _by_name(Programme, fields["name"]))
        result[key] = found or tally.add(
            "programme", structure.save_programme(session, None, **fields)
        )
    return result


def _load_networks(session: Session, tally: Tally) -> dict[str, Network]:
    """Create the networks of ATS Bergamo and ATS Insubria."""
    result = {}
    for key, fields in NETWORKS.items():
        found = tally.find(session, "network", _by_name(Network, fields["name"]))
        result[key] = found or tally.add("network", structure.save_network(session, None, **fields))
    return result


# The treasury account of the capofila whose operator is a demo account, so the payout
# screens work out of the box (an invented IBAN with valid check digits).
TREASURY_ACCOUNTS = {"tradate": ("IT84Q0569611000000012345X67", "POSOIT22XXX")}


def _load_organisations(session: Session, tally: Tally) -> dict[str, Organisation]:
    """Create every partner, found again by its (derived) codice fiscale."""
    result = _create_organisations(session, tally)
    for key, (iban, bic) in TREASURY_ACCOUNTS.items():
        if result[key].iban is None:
            result[key].iban, result[key].bic = iban, bic
    return result


def _create_organisations(session: Session, tally: Tally) -> dict[str, Organisation]:
    """Create every partner, found again by its (derived) codice fiscale."""
    result = {}
    for key, org in ORGANISATIONS.items():
        tax_code = organisation_tax_code(org)
        found = tally.find(
            session, "organisation", select(Organisation).where(Organisation.tax_code == tax_code)
        )
        result[key] = found or tally.add(
            "organisation",
            structure.save_organisation(
                session,
                None,
                name=org.name,
                kind=org.kind,
                size=org.size,
                tax_code=tax_code,
                # Companies and cooperatives use their partita IVA as codice fiscale.
                vat_number=tax_code if org.kind in (COMPANY, COOP) else None,
                municipality=org.municipality,
            ),
        )
    return result


def _load_alliances(
    session: Session,
    tally: Tally,
    networks: dict[str, Network],
    orgs: dict[str, Organisation],
) -> dict[str, Alliance]:
    """Create the nine alliances with their lead and partners."""
    result = {}
    for key, (network, name, lead, partners) in ALLIANCES.items():
        found = tally.find(session, "alliance", _by_name(Alliance, name))
        result[key] = found or tally.add(
            "alliance",
            structure.save_alliance(
                session,
                None,
                network=networks[network],
                name=name,
                lead=orgs[lead],
                partners=[orgs[p] for p in partners],
            ),
        )
    return result


def _load_projects(
    session: Session,
    tally: Tally,
    alliances: dict[str, Alliance],
    programmes: dict[str, Programme],
) -> None:
    """Create the projects and, within each, its measures with their budgets."""
    for data in PROJECTS:
        alliance = alliances[data["alliance"]]
        found = tally.find(
            session,
            "project",
            select(Project).where(
                Project.alliance_id == alliance.id, Project.title == data["title"]
            ),
        )
        project = found or tally.add(
            "project",
            structure.save_project(
                session,
                None,
                alliance=alliance,
                programme=programmes[data["programme"]],
                title=data["title"],
                code=data.get("code", ""),
                description=data["description"],
                starts_on=data["starts_on"],
                ends_on=data["ends_on"],
                total_cents=eur(data["total"]),
                regional_share_cents=eur(data["regional"]),
                cofunding_cents=eur(data["total"] - data["regional"]),
            ),
        )
        for fields in data["measures"]:
            stmt = select(Measure).where(
                Measure.project_id == project.id, Measure.title == fields["title"]
            )
            if tally.find(session, "measure", stmt) is None:
                tally.add(
                    "measure", structure.save_measure(session, None, project=project, **fields)
                )


def _load_users(
    session: Session,
    tally: Tally,
    orgs: dict[str, Organisation],
    alliances: dict[str, Alliance],
    networks: dict[str, Network],
) -> dict[str, User]:
    """Create one demo account per role, all with DEMO_PASSWORD."""
    result = {}
    for data in USERS:
        email = accounts.normalise_email(data["email"])
        user = tally.find(session, "user", select(User).where(User.email == email))
        if user is None:
            user = structure.save_user(
                session,
                None,
                email=email,
                first_name=data["first_name"],
                last_name=data["last_name"],
                role=data["role"],
                password=DEMO_PASSWORD,
                tax_code=data.get("tax_code"),
                organisation=orgs.get(data.get("organisation", "")),
                alliance=alliances.get(data.get("alliance", "")),
                network=networks.get(data.get("network", "")),
            )
            # save_user takes no locale: the demo people read the app in Italian.
            user.locale = "it"
            user.iban = data.get("iban")
            tally.add("user", user)
        result[email] = user
    return result


def _load_families(
    session: Session, tally: Tally, users: dict[str, User], orgs: dict[str, Organisation]
) -> None:
    """Declare the workers' employments (one confirmed by HR) and their children.

    There is no service for these yet: plain inserts, audited as the services would.
    """
    hr = users[HR_EMAIL]
    for email, (org_key, since, status) in EMPLOYMENTS.items():
        worker, org = users[email], orgs[org_key]
        stmt = select(Employment).where(
            Employment.worker_id == worker.id, Employment.organisation_id == org.id
        )
        if tally.find(session, "employment", stmt) is not None:
            continue
        employment = Employment(worker=worker, organisation=org, starts_on=since)
        session.add(employment)
        audit.record(session, "employment.declare", employment, worker)
        if status is EmploymentStatus.CONFIRMED:
            employment.status = status
            employment.decided_by = hr
            employment.decided_at = CONFIRMED_AT
            audit.record(session, "employment.confirm", employment, hr)
        tally.add("employment", employment)
    for email, dependants in DEPENDANTS.items():
        worker = users[email]
        for fields in dependants:
            stmt = select(Dependant).where(
                Dependant.worker_id == worker.id,
                Dependant.first_name == fields["first_name"],
                Dependant.birth_date == fields["birth_date"],
            )
            if tally.find(session, "dependant", stmt) is None:
                dependant = Dependant(worker=worker, **fields)
                session.add(dependant)
                audit.record(session, "dependant.create", dependant, worker)
                tally.add("dependant", dependant)


def _demo_receipt_image(receipt: dict[str, Any] | None = None) -> FileStorage:
    """A photographed receipt, drawn on the spot (no binary in the repository)."""
    receipt = receipt or DEMO_RECEIPT
    image = Image.new("RGB", (600, 800), "white")
    draw = ImageDraw.Draw(image)
    euros = f"EUR {receipt['amount_cents'] // 100},{receipt['amount_cents'] % 100:02d}"
    for row, text in enumerate(
        (receipt["supplier_name"], f"Fattura {receipt['document_number']}", euros)
    ):
        draw.text((40, 60 + 40 * row), text, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    buffer.seek(0)
    return FileStorage(stream=buffer, filename="scontrino.jpg", content_type="image/jpeg")


def _sent_claim(
    session: Session, worker: User, voucher: Voucher, receipt: dict[str, Any], today: date
) -> Claim:
    """A reimbursement request with one photographed receipt, sent as the worker would."""
    claim = claims.open_claim(session, worker, voucher, today)
    folder = current_app.config["UPLOAD_FOLDER"]
    stored = uploads.store_upload(
        _demo_receipt_image(receipt), folder, current_app.config["MAX_UPLOAD_BYTES"]
    )
    claims.add_receipt(
        session, claim, stored, issued_on=today, folder=folder, today=today, **receipt
    )
    claims.submit(session, claim, worker, today)
    return claim


def _load_activity(session: Session, tally: Tally, users: dict[str, User]) -> None:
    """Applications (and a claim) made through the real services, as the workers would."""
    today = clock.today()
    for email, (title, for_child, euros, with_claim) in ACTIVITY.items():
        worker = users[email]
        measure = session.scalars(select(Measure).where(Measure.title == title)).one()
        stmt = select(Application).where(
            Application.worker_id == worker.id, Application.measure_id == measure.id
        )
        if tally.find(session, "application", stmt) is not None:
            continue
        child = (
            session.scalars(select(Dependant).where(Dependant.worker_id == worker.id)).first()
            if for_child
            else None
        )
        application = applications.start(
            session,
            worker,
            measure,
            dependant=child,
            amount_requested_cents=eur(euros),
            today=today,
        )
        applications.submit(session, application, worker, today=today)
        tally.add("application", application)
        session.flush()
        if with_claim and application.voucher is not None:
            claim = _sent_claim(session, worker, application.voucher, DEMO_RECEIPT, today)
            tally.add("claim", claim)


# A second receipt of lavoratrice, already reimbursed: approved by the demo operator and
# paid with a SEPA payout, so the payout pages and the worker's "paid" notice have data.
PAID_RECEIPT = {
    "supplier_name": "Asilo nido Il Girasole soc. coop.",
    "supplier_vat": DEMO_RECEIPT["supplier_vat"],
    "document_number": "2026/097",
    "amount_cents": 60_00,
}
PAID_WORKER = "lavoratrice@demo.example"
PAYING_OPERATOR = "operatore@demo.example"


def _load_payout(session: Session, tally: Tally, users: dict[str, User]) -> None:
    """A reimbursement already paid to the demo worker, through review and a payout."""
    worker, operator = users[PAID_WORKER], users[PAYING_OPERATOR]
    voucher = session.scalars(
        select(Voucher).where(Voucher.worker_id == worker.id).order_by(Voucher.id)
    ).first()
    if voucher is None:
        return
    project = voucher.measure.project
    if tally.find(session, "payout", select(Payout).where(Payout.project_id == project.id)):
        return
    today = clock.today()
    claim = _sent_claim(session, worker, voucher, PAID_RECEIPT, today)
    review.approve(session, claim, operator, today=today)
    payout = payouts.create(session, project, operator, [claim.id], today, today)
    payouts.execute(session, payout, operator, today, "CRO 0000123456789", today=today)
    tally.add("claim", claim)
    tally.add("payout", payout)


# --- time-saving services (SalvaTempo) --------------------------------------------------

# The seed lists "Stireria sociale" and "Maggiordomo aziendale" among the Tradate alliance's
# SalvaTempo services; the demo's provider (L'Aquilone) runs both. Prices, places, times
# and the minutes saved are invented.
SALVATEMPO_PROVIDER = "fornitore@demo.example"
# (service fields, slots as (weekday 0=Monday, start, end, capacity)), for SLOT_WEEKS weeks.
SALVATEMPO_SERVICES: tuple[tuple[dict[str, Any], tuple[tuple[int, time, time, int], ...]], ...] = (
    (
        {
            "kind": ServiceKind.IRONING,
            "title": "Stireria sociale",
            "description": (
                "Porti i capi in stireria (o li lasci al punto di raccolta in azienda) e li "
                "ritrovi stirati e piegati il giorno dopo. Prezzo al chilo di bucato asciutto."
            ),
            "unit": ServiceUnit.KG,
            "price_cents": 350,
            "place": "Via Monte Grappa 12, Tradate",
            "minutes_saved_per_unit": 20,
            "cancellation_hours": 24,
        },
        ((1, time(9, 0), time(12, 0), 6), (3, time(15, 0), time(18, 0), 6)),
    ),
    (
        {
            "kind": ServiceKind.CONCIERGE,
            "title": "Maggiordomo aziendale",
            "description": (
                "Una commissione sbrigata per te durante l'orario di lavoro: ritiro di "
                "pacchi e referti, pratiche in posta, spesa consegnata in azienda."
            ),
            "unit": ServiceUnit.ERRAND,
            "price_cents": 1200,
            "place": "Consegna in azienda, zona industriale di Tradate",
            "minutes_saved_per_unit": 45,
            "cancellation_hours": 12,
        },
        ((0, time(12, 30), time(14, 0), 4), (2, time(12, 30), time(14, 0), 4)),
    ),
)
SLOT_WEEKS = 4
# worker e-mail -> (time-saving measure, amount in euros): a voucher granted on the first of
# last month, with a booking delivered then (in the provider's statement, for the operator
# to pay) and one to come.
TIME_SAVING_VOUCHERS = {"lavoratrice@demo.example": ("SalvaTempo: stireria sociale", 150)}


def _load_salvatempo(session: Session, tally: Tally, users: dict[str, User]) -> None:
    """The provider's services with slots in the coming weeks, and a time-saving voucher."""
    provider = users[SALVATEMPO_PROVIDER]
    now = utcnow()
    today = now.astimezone(catalogue.ROME).date()
    for fields, weekly in SALVATEMPO_SERVICES:
        stmt = select(Service).where(
            Service.organisation_id == provider.organisation_id, Service.title == fields["title"]
        )
        if tally.find(session, "service", stmt) is not None:
            continue
        service = catalogue.save_service(
            session,
            None,
            provider,
            description=fields["description"],
            accepts_card=True,
            active=True,
            **{k: v for k, v in fields.items() if k != "description"},
        )
        tally.add("service", service)
        for weekday, start, end, capacity in weekly:
            # The first such weekday after today, then every week.
            first = today + timedelta(days=(weekday - today.weekday()) % 7 or 7)
            catalogue.add_slots(
                session,
                service,
                provider,
                day=first,
                start=start,
                end=end,
                capacity=capacity,
                weeks=SLOT_WEEKS,
                now=now,
            )
    for email, (title, euros) in TIME_SAVING_VOUCHERS.items():
        worker = users[email]
        measure = session.scalars(select(Measure).where(Measure.title == title)).one()
        stmt = select(Application).where(
            Application.worker_id == worker.id, Application.measure_id == measure.id
        )
        if tally.find(session, "application", stmt) is not None:
            continue
        granted_on = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        application = applications.start(
            session,
            worker,
            measure,
            dependant=None,
            amount_requested_cents=eur(euros),
            today=granted_on,
        )
        applications.submit(session, application, worker, today=granted_on)
        tally.add("application", application)
        if application.voucher is not None:
            _load_bookings(session, tally, worker, provider, application.voucher, now)


def _load_bookings(
    session: Session, tally: Tally, worker: User, provider: User, voucher: Voucher, now: datetime
) -> None:
    """A booking delivered last month, in its statement, and a booking to come."""
    services = {
        s.kind: s
        for s in session.scalars(
            select(Service).where(Service.organisation_id == provider.organisation_id)
        )
    }
    month = voucher.valid_from  # the first of last month
    start = catalogue.local_moment(month + timedelta(days=9), time(9, 0))
    # The catalogue adds future slots only: last month's is written as it was then.
    past = Slot(
        service=services[ServiceKind.IRONING],
        starts_at=start,
        ends_at=start + timedelta(hours=3),
        capacity=6,
        booked=0,
    )
    session.add(past)
    session.flush()
    delivered = bookings.book(
        session, worker, past, voucher, 4, card=False, now=start - timedelta(days=2)
    )
    bookings.deliver(session, delivered, provider, start + timedelta(hours=3))
    bookings.issue_statement(
        session, provider.organisation, voucher.measure.project.alliance, month, provider, now
    )
    upcoming = session.scalars(
        select(Slot)
        .where(Slot.service_id == services[ServiceKind.CONCIERGE].id, Slot.starts_at > now)
        .order_by(Slot.starts_at)
    ).first()
    tally.add("booking", delivered)
    tally.add("booking", bookings.book(session, worker, upcoming, voucher, 1, card=False, now=now))


def load_demo(session: Session) -> str:
    """Load the demo data (idempotent) and return a summary of what was created."""
    tally = Tally()
    programmes = _load_programmes(session, tally)
    networks = _load_networks(session, tally)
    orgs = _load_organisations(session, tally)
    alliances = _load_alliances(session, tally, networks, orgs)
    _load_projects(session, tally, alliances, programmes)
    users = _load_users(session, tally, orgs, alliances, networks)
    _load_families(session, tally, users, orgs)
    session.flush()
    _load_activity(session, tally, users)
    session.flush()
    _load_payout(session, tally, users)
    session.flush()
    _load_salvatempo(session, tally, users)
    session.flush()
    return tally.summary()
