"""The input workbook schema: sheets, columns and settings.

This module is the one source of truth for the layout of an input workbook. The reader
(:mod:`hta.excel.reader`) validates against it and the template writer
(:mod:`hta.excel.template`) lays out the blank workbook and its README from it, so the two
cannot drift apart. ``docs/inputs.md`` documents the same schema for people.

Conventions shared by every data sheet:

* the header is row 1 and each following row is one record; blank rows are ignored;
* columns are found by header (case-insensitive, surrounding spaces ignored), in any order;
  columns the schema does not know are ignored (use them for notes);
* choice values (distribution names, units, ...) are case-insensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hta.inputs import budget as _bia
from hta.inputs.kinds import KINDS as PARAMETER_KINDS
from hta.survival.curves import DISTRIBUTIONS as SURVIVAL_FAMILIES
from hta.survival.reconstruct import NEGATIVE_TIME_TOLERANCE, RISE_TOLERANCE
from hta.units import TIME_UNITS

#: Kinds of cell a column or setting holds.
TEXT, NUMBER, INTEGER, CHOICE = "text", "number", "integer", "choice"

#: Identifier-like names: letters, digits and underscores, starting with a letter.
IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

#: Names of the willingness-to-pay settings: wtp_1, wtp_2, ...
WTP_SETTING = re.compile(r"^wtp_([1-9][0-9]*)$")

#: Tolerances of digitised Kaplan-Meier points, the same as the reconstruction's
#: (hta.survival.reconstruct): rises in survival up to KM_RISE_TOLERANCE (absolute, 0-1 scale)
#: and negative times down to KM_NEGATIVE_TIME_TOLERANCE of the curve's last time are
#: digitisation error, cleaned and reported by the reconstruction; larger ones are errors.
KM_RISE_TOLERANCE = RISE_TOLERANCE
KM_NEGATIVE_TIME_TOLERANCE = NEGATIVE_TIME_TOLERANCE

#: A cost is a parameter whose unit starts with this prefix or whose name starts with ``c_``.
COST_UNIT_PREFIX = "HK$"
COST_NAME_PREFIX = "c_"

PARAMETER_DISTRIBUTIONS = (
    "fixed", "normal", "lognormal", "beta", "gamma", "uniform", "triangular",
)

#: Distributions that accept either mean + SE or native parameters, and the names of their
#: native parameters (param_a, param_b).
NATIVE_PARAMETERS = {
    "lognormal": ("meanlog", "sdlog"),
    "beta": ("alpha", "beta"),
    "gamma": ("shape", "scale"),
}

SURVIVAL_INPUTS = ("parametric", "km", "ipd")

#: Coefficients of each parametric survival distribution, in flexsurv's unconstrained order
#: (the order of ``coef(fit)`` and ``vcov(fit)`` in R's flexsurvreg): the registry's
#: ``coef_names`` (``hta.survival.curves.DISTRIBUTIONS``), so a new family needs no entry here.
SURVIVAL_COEFFICIENTS = {name: family.coef_names for name, family in SURVIVAL_FAMILIES.items()}
SURVIVAL_DISTRIBUTIONS = tuple(SURVIVAL_COEFFICIENTS)
MAX_COEFFICIENTS = max(len(names) for names in SURVIVAL_COEFFICIENTS.values())
#: Bounds on survival coefficients and their covariances: exp(50) is about 5e21, far beyond any
#: time scale or rate in days, and a variance of 100 on the log scale is already no information;
#: beyond these the curves overflow to infinity or zero.
MAX_COEFFICIENT = 50.0
#: The largest time of digitised or patient-level survival data, in its own unit (1e6 days is
#: 2,700 years): larger times are typing errors that overflow the reconstruction and fits.
MAX_DATA_TIME = 1e6
MAX_COVARIANCE = 100.0

CYCLES = ("week", "28 days", "month", "year")
WITHIN_CYCLE = ("half-cycle", "simpson", "start", "end")
DISCOUNT_METHODS = ("discrete", "continuous")
LIFE_TABLES = ("hk-2020-2025", "hk-2015-2020", "sheet")
UTILITY_NORMS = ("none", "hk-eq5d5l-2019", "uk-ara-brazier-2010")
SEXES = ("male", "female")

MAX_DISCOUNT_RATE = 0.2
#: Bounds that keep every array the model allocates, and every sum it forms, small and finite:
#: a horizon of 1 to 120 years (a cohort's lifetime; under a year, survival extrapolation has no
#: yearly grid to select on), a willingness to pay of at most 1e9 per QALY, populations of at most
#: 1e10 persons and at most 10 million PSA draws.
MAX_HORIZON_YEARS = 120.0
MAX_WTP = 1e9
MAX_POPULATION = 1e10
MAX_PSA_DRAWS = 10_000_000


@dataclass(frozen=True)
class Column:
    """One column of a data sheet.

    ``required`` means the cell must be filled on every record; conditional requirements
    (for example ``se`` for a normal distribution) are checked by the reader and described in
    ``description``. ``optional_header`` columns may be left out of the sheet altogether.
    """

    name: str
    kind: str
    description: str
    required: bool = False
    choices: tuple[str, ...] = ()
    optional_header: bool = False
    width: int = 14


@dataclass(frozen=True)
class Sheet:
    """One sheet of the input workbook."""

    name: str
    purpose: str
    columns: tuple[Column, ...]
    required: bool = True
    #: Sheets whose name the user chooses (KM and IPD data) are templates: ``name`` is only the
    #: name used in the blank workbook.
    user_named: bool = False

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


@dataclass(frozen=True)
class Setting:
    """One known row of the Settings sheet, with its type and allowed range."""

    name: str
    kind: str
    description: str
    required: bool = False
    unit: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    minimum_exclusive: bool = False
    default: object = None

    def expected(self) -> str:
        """Plain-English description of an acceptable value."""
        if self.kind == CHOICE:
            return "one of " + ", ".join(self.choices)
        if self.kind == TEXT:
            return "text"
        noun = "a whole number" if self.kind == INTEGER else "a number"
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            return f"{noun} from {_fmt(lo)} to {_fmt(hi)}"
        if lo is not None:
            return f"{noun} {'>' if self.minimum_exclusive else '>='} {_fmt(lo)}"
        return noun


def _fmt(x: float) -> str:
    return f"{x:g}"


SETTINGS: tuple[Setting, ...] = (
    Setting("model", TEXT, "Name of the decision model (a module in models/).", default=None),
    Setting("horizon_years", NUMBER, "Time horizon of the model (1 to 120 years).", required=True,
            unit="years", minimum=1.0, maximum=MAX_HORIZON_YEARS),
    Setting("cycle", CHOICE, "Cycle length.", required=True, choices=CYCLES),
    Setting("discount_costs", NUMBER,
            "Discount rate for costs, per annum, as a fraction (3% is 0.03).", required=True,
            unit="per annum", minimum=0.0, maximum=MAX_DISCOUNT_RATE),
    Setting("discount_outcomes", NUMBER,
            "Discount rate for QALYs and life-years, per annum, as a fraction (3% is 0.03).",
            required=True, unit="per annum", minimum=0.0, maximum=MAX_DISCOUNT_RATE),
    Setting("discount_method", CHOICE,
            "discrete: (1+r)^-t; continuous: exp(-r t). Default discrete.",
            choices=DISCOUNT_METHODS, default="discrete"),
    Setting("within_cycle", CHOICE, "Within-cycle correction of the cohort trace.",
            required=True, choices=WITHIN_CYCLE),
    Setting("currency", TEXT, "Currency of all costs. Default HKD.", default="HKD"),
    Setting("start_age", NUMBER, "Mean age of the cohort at the start of the model.",
            required=True, unit="years", minimum=0.0, maximum=100.0),
    Setting("male_share", NUMBER, "Proportion of the cohort that is male (0 to 1).",
            required=True, unit="proportion", minimum=0.0, maximum=1.0),
    Setting("life_table", CHOICE,
            "General-population mortality: a shipped Hong Kong life table, or 'sheet' to use the "
            "LifeTable sheet. Default hk-2020-2025.", choices=LIFE_TABLES,
            default="hk-2020-2025"),
    Setting("utility_norms", CHOICE,
            "Age adjustment of state utilities: the general-population norm table (shipped with hta, "
            "hta/data) whose ratio to the norm at start_age multiplies utilities each cycle, or "
            "'none'. Default none.", choices=UTILITY_NORMS, default="none"),
    Setting("annual_population", NUMBER,
            "Patients eligible each year (population EVPI; the budget impact uses the Budget "
            "sheet).", unit="patients per year",
            minimum=0.0, maximum=MAX_POPULATION),
    Setting("population_years", NUMBER, "Years over which the decision applies (population EVPI).",
            unit="years", minimum=0.0, maximum=MAX_HORIZON_YEARS),
    Setting("seed", INTEGER, "Seed of the probabilistic sensitivity analysis.", minimum=0.0,
            maximum=2.0**63 - 1),
    Setting("psa_draws", INTEGER, "Number of PSA draws.", minimum=1.0, maximum=MAX_PSA_DRAWS),
)
SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}

#: Template for the wtp_1, wtp_2, ... settings (the name is a pattern).
WTP = Setting("wtp_N", NUMBER,
              "Willingness-to-pay threshold per QALY; the description column is its label "
              "(e.g. '1x HK GDP per capita'). At least wtp_1 is required.",
              required=True, unit="currency per QALY", minimum=0.0, minimum_exclusive=True,
              maximum=MAX_WTP)

SOURCE_HELP = ("Citation for the number (author, year, table/figure, page), or the word "
               "'assumption' followed by the rationale.")

SETTINGS_SHEET = Sheet(
    "Settings",
    "Model-wide settings, one per row: setting name in 'setting', its value in 'value'.",
    (
        Column("setting", TEXT, "Name of the setting (see the list in the README).",
               required=True, width=20),
        Column("value", TEXT, "Value of the setting (a number or a choice).", width=16),
        Column("unit", TEXT, "Unit of the value (documentation only).", optional_header=True),
        Column("description", TEXT, "What the setting means; for wtp_N rows, the WTP's label.",
               optional_header=True, width=40),
        Column("source", TEXT, SOURCE_HELP, optional_header=True, width=40),
    ),
)

PARAMETERS_SHEET = Sheet(
    "Parameters",
    "Scalar model parameters: base value, uncertainty for the PSA, range for one-way analyses.",
    (
        Column("name", TEXT,
               "Unique identifier: letters, digits, underscore, starting with a letter. "
               "Cost parameters start with c_ (or have a unit starting with HK$) and must not be "
               "negative.", required=True, width=22),
        Column("value", NUMBER, "Base-case value (the mean for mean + SE specifications, the "
               "mode for triangular).", required=True),
        Column("unit", TEXT, "Unit, e.g. 'HK$ per cycle', 'annual utility', 'probability'.",
               optional_header=True),
        Column("distribution", CHOICE,
               "PSA distribution; blank means fixed. normal: mean = value, sd = se. "
               "lognormal, beta, gamma: mean = value with se, OR native parameters in "
               "param_a/param_b (lognormal meanlog/sdlog, beta alpha/beta, gamma shape/scale), "
               "not both. uniform: param_a = lower, param_b = upper. triangular: param_a = min, "
               "mode = value, param_b = max.", choices=PARAMETER_DISTRIBUTIONS),
        Column("se", NUMBER, "Standard error (normal; lognormal/beta/gamma by mean + SE)."),
        Column("param_a", NUMBER, "First native parameter (see distribution)."),
        Column("param_b", NUMBER, "Second native parameter (see distribution)."),
        Column("low", NUMBER, "Low value for one-way analyses; blank = 2.5th percentile of "
               "the distribution (the value itself if fixed).", optional_header=True),
        Column("high", NUMBER, "High value for one-way analyses; blank = 97.5th percentile.",
               optional_header=True),
        Column("group", TEXT, "Group label used in tornado diagrams and EVPPI.",
               optional_header=True),
        Column("description", TEXT, "What the parameter is.", optional_header=True, width=40),
        Column("source", TEXT, SOURCE_HELP, required=True, width=40),
        Column("kind", CHOICE, "What the number is: " + ", ".join(PARAMETER_KINDS) + ". Its "
               "domain is enforced on value, low/high and the distribution's support (a "
               "probability 0-1, a utility -1 to 1, a cost >= 0, ...; see docs/inputs.md); "
               "'free' allows any finite value and any distribution. Blank: inferred from a c_ "
               "name or the unit where unambiguous, else free (hta validate lists which).",
               choices=PARAMETER_KINDS, optional_header=True, width=18),
    ),
)

DIRICHLET_SHEET = Sheet(
    "Dirichlet",
    "Dirichlet blocks (proportions that sum to 1, e.g. a multinomial transition row): one row "
    "per category; rows with the same 'block' form one block. Base values are count / total.",
    (
        Column("block", TEXT, "Name of the block the category belongs to.", required=True),
        Column("name", TEXT, "Parameter name of the category's proportion (identifier, unique "
               "across Parameters and Dirichlet).", required=True, width=22),
        Column("count", NUMBER, "Observed count (> 0) of the category.", required=True),
        Column("description", TEXT, "What the category is.", optional_header=True, width=40),
        Column("source", TEXT, SOURCE_HELP, required=True, width=40),
    ),
    required=False,
)

STRATEGIES_SHEET = Sheet(
    "Strategies",
    "The strategies compared (at least one; the first is usually the comparator).",
    (
        Column("strategy", TEXT, "Unique short name used in the other sheets.", required=True,
               width=18),
        Column("label", TEXT, "Label shown in results (default: the name).",
               optional_header=True, width=24),
        Column("description", TEXT, "What the strategy is.", optional_header=True, width=40),
    ),
)

SURVIVAL_SHEET = Sheet(
    "Survival",
    "One row per (strategy, endpoint) survival curve: where its data come from.",
    (
        Column("strategy", TEXT, "A strategy of the Strategies sheet.", required=True),
        Column("endpoint", TEXT, "Endpoint, e.g. PFS, OS, TTD.", required=True),
        Column("input", CHOICE, "parametric: coefficients in SurvivalCoefficients; km: digitised "
               "Kaplan-Meier points in the sheet named in data_sheet; ipd: individual patient "
               "data in the sheet named in data_sheet.", required=True, choices=SURVIVAL_INPUTS),
        Column("distribution", CHOICE, "Parametric distribution (required for parametric; for "
               "km/ipd, the distribution to fit, optional).", choices=SURVIVAL_DISTRIBUTIONS),
        Column("time_unit", CHOICE, "Unit of time of the coefficients or data.", required=True,
               choices=TIME_UNITS),
        Column("data_sheet", TEXT, "km/ipd: name of the sheet holding the data points.",
               width=16),
        Column("n_at_risk_0", INTEGER, "km: number at risk at time 0 (may be left blank when the "
               "at-risk table starts at time 0)."),
        Column("total_events", INTEGER, "km: total number of events, if reported (optional).",
               optional_header=True),
        Column("description", TEXT, "What the curve is.", optional_header=True, width=40),
        Column("source", TEXT, SOURCE_HELP, required=True, width=40),
    ),
    required=False,
)

SURVIVAL_COEFFICIENTS_SHEET = Sheet(
    "SurvivalCoefficients",
    "Coefficients of parametric curves (input = parametric), one row per coefficient, in "
    "flexsurv's order, with the covariance matrix row by row in cov_1..cov_3.",
    (
        Column("strategy", TEXT, "Strategy of the curve.", required=True),
        Column("endpoint", TEXT, "Endpoint of the curve.", required=True),
        Column("coefficient", TEXT, "Coefficient name, in this order per distribution: "
               + "; ".join(f"{d}: {', '.join(c)}" for d, c in SURVIVAL_COEFFICIENTS.items()),
               required=True, width=16),
        Column("estimate", NUMBER, "Point estimate on the unconstrained (log) scale.",
               required=True),
        *(Column(f"cov_{j}", NUMBER, f"Covariance with coefficient {j} of this curve (row i of "
                 "the covariance matrix, e.g. vcov(fit) in flexsurv). Leave all cov cells of a "
                 "curve blank for no uncertainty.") for j in range(1, MAX_COEFFICIENTS + 1)),
        Column("source", TEXT, SOURCE_HELP, required=True, width=40),
    ),
    required=False,
)

KM_SHEET = Sheet(
    "KM_data",
    "Digitised Kaplan-Meier curve (any sheet name, referenced from Survival.data_sheet): "
    "time/survival points and, optionally, the numbers-at-risk table printed under the figure.",
    (
        Column("time", NUMBER, "Time of the point (>= 0), in the curve's time_unit."),
        Column("survival", NUMBER, "Survival at that time, as a proportion (0-1) or a percent "
               "(0-100)."),
        Column("at_risk_time", NUMBER, "Time of a numbers-at-risk column (within the curve's "
               "time range).", optional_header=True),
        Column("n_at_risk", INTEGER, "Number at risk at at_risk_time (never rising, never above "
               "the number at risk at time 0).", optional_header=True),
    ),
    required=False,
    user_named=True,
)

IPD_SHEET = Sheet(
    "IPD_data",
    "Individual patient data (any sheet name, referenced from Survival.data_sheet).",
    (
        Column("time", NUMBER, "Time to event or censoring (>= 0), in the curve's time_unit.",
               required=True),
        Column("event", INTEGER, "1 = event, 0 = censored.", required=True),
    ),
    required=False,
    user_named=True,
)

LIFETABLE_SHEET = Sheet(
    "LifeTable",
    "General-population mortality used when the setting life_table = sheet.",
    (
        Column("age", NUMBER, "Age in whole years (0-120).", required=True),
        Column("sex", CHOICE, "male or female.", required=True, choices=SEXES),
        Column("mx", NUMBER, "Central death rate at that age (per person-year, >= 0).",
               required=True),
    ),
    required=False,
)

# -- Budget impact (optional; hta.analysis.bia, docs/bia.md) ------------------------------------------

UPTAKE_CURVES = _bia.UPTAKE_CURVES
BUDGET_ENTRY = _bia.ENTRY
MAX_GROWTH = 0.2
MAX_BUDGET_YEARS = 20

#: Names of the eligibility steps of the Budget sheet: eligible_<name>, applied in sheet order.
ELIGIBLE_ITEM = re.compile(r"^eligible_[a-z0-9_]+$")

#: Known rows of the Budget sheet (the same typed-row machinery as Settings).
BUDGET_ITEMS: tuple[Setting, ...] = (
    Setting("start_year", INTEGER, "Calendar year of listing: the first budget year.", required=True,
            unit="calendar year", minimum=1900.0, maximum=2200.0),
    Setting("horizon_years", INTEGER, "Years of budget impact (ISPOR: 1 to 5). Default 5.",
            unit="years", minimum=1.0, maximum=float(MAX_BUDGET_YEARS), default=5),
    Setting("new_strategy", TEXT, "The strategy of the Strategies sheet that is the new drug.",
            required=True),
    Setting("population", NUMBER, "Population of the budget holder's catchment in population_year.",
            required=True, unit="persons", minimum=0.0, minimum_exclusive=True, maximum=MAX_POPULATION),
    Setting("population_year", INTEGER, "Calendar year of population and incidence_per_100000.",
            required=True, unit="calendar year", minimum=1900.0, maximum=2200.0),
    Setting("population_growth", NUMBER, "Projected population growth per annum, as a fraction "
            "(may be negative). Default 0.", unit="per annum", minimum=-MAX_GROWTH, maximum=MAX_GROWTH,
            default=0.0),
    Setting("incidence_per_100000", NUMBER, "New cases of the disease per 100,000 persons a year in "
            "population_year.", required=True, unit="per 100,000 per year", minimum=0.0,
            maximum=100_000.0),
    Setting("incidence_growth", NUMBER, "Projected change of the incidence rate per annum, as a "
            "fraction (ageing, trends). Default 0.", unit="per annum", minimum=-MAX_GROWTH,
            maximum=MAX_GROWTH, default=0.0),
    Setting("prevalent_patients", NUMBER, "Patients already eligible at listing (a prevalent pool), "
            "starting in budget year 1. Default 0.", unit="patients", minimum=0.0, maximum=MAX_POPULATION,
            default=0.0),
    Setting("uptake_curve", CHOICE, "Share of the new drug by year: explicit (share_with of the new "
            "strategy in BudgetShares, per year), linear (uptake_year_1 to uptake_peak at "
            "uptake_peak_year) or s-shaped (logistic: uptake_peak, uptake_midpoint, "
            "uptake_steepness).", required=True, choices=UPTAKE_CURVES),
    Setting("uptake_year_1", NUMBER, "linear: share of the new drug in budget year 1.",
            unit="proportion", minimum=0.0, maximum=1.0),
    Setting("uptake_peak", NUMBER, "linear, s-shaped: peak share of the new drug.", unit="proportion",
            minimum=0.0, maximum=1.0),
    Setting("uptake_peak_year", NUMBER, "linear: budget year in which the peak is reached.",
            unit="budget year", minimum=1.0, maximum=float(MAX_BUDGET_YEARS)),
    Setting("uptake_midpoint", NUMBER, "s-shaped: budget year at which half the peak is reached.",
            unit="budget year", minimum=-100.0, maximum=100.0),
    Setting("uptake_steepness", NUMBER, "s-shaped: steepness of the logistic curve (per year).",
            unit="per year", minimum=0.0, minimum_exclusive=True, maximum=100.0),
    Setting("uptake_scale", NUMBER, "Factor on the uptake curve (1 = as given); its low/high give a "
            "one-way range for any curve. Default 1.", unit="factor", minimum=0.0, maximum=100.0,
            default=1.0),
    Setting("entry", CHOICE, "When in its year a cohort starts treatment: mid-year (patients start "
            "through the year, on average at mid-year) or start (1 January). Default mid-year.",
            choices=BUDGET_ENTRY, default="mid-year"),
    Setting("price_parameter", TEXT, "Parameter (Parameters sheet) holding the new drug's price; "
            "low/high on this row give the price range of the one-way analysis (blank: the "
            "parameter's own low/high)."),
)
BUDGET_ITEMS_BY_NAME = {s.name: s for s in BUDGET_ITEMS}

#: Template for the eligible_<name> rows (the name is a pattern).
ELIGIBLE = Setting("eligible_<name>", NUMBER, "Share of the previous step that is eligible (e.g. "
                   "reaches the line of therapy; is fit for treatment); the description is its "
                   "label. Steps multiply, in sheet order.", unit="proportion", minimum=0.0,
                   maximum=1.0)

BUDGET_SHEET = Sheet(
    "Budget",
    "Budget impact inputs (optional; with BudgetShares): one item per row, value in 'value', "
    "one-way range in low/high. See docs/bia.md.",
    (
        Column("item", TEXT, "Name of the item (see the list in the README).", required=True,
               width=22),
        Column("value", TEXT, "Value of the item (a number, a choice or a name).", width=16),
        Column("low", NUMBER, "Low value for the budget impact one-way analysis (numeric items; "
               "blank: not varied).", optional_header=True),
        Column("high", NUMBER, "High value for the one-way analysis.", optional_header=True),
        Column("unit", TEXT, "Unit of the value (documentation only).", optional_header=True),
        Column("description", TEXT, "What the item means; for eligible_<name> rows, the step's "
               "label.", optional_header=True, width=40),
        Column("source", TEXT, SOURCE_HELP, required=True, width=40),
    ),
    required=False,
)

BUDGET_SHARES_SHEET = Sheet(
    "BudgetShares",
    "Market shares of the patients starting treatment each year, per strategy, in the world "
    "without the new drug (and the new drug's explicit uptake); displacement weights say from "
    "which comparators the new drug takes its share (blank: in proportion to their shares).",
    (
        Column("strategy", TEXT, "A strategy of the Strategies sheet.", required=True, width=18),
        Column("year", INTEGER, "Budget year (1 = start_year); blank = every budget year. A row "
               "for a given year overrides the strategy's blank-year row."),
        Column("share_without", NUMBER, "Share without the new drug (0-1; shares sum to 1 each "
               "year; the new strategy's is 0).", required=True),
        Column("share_with", NUMBER, "uptake_curve = explicit: the new strategy's share with the "
               "new drug (0-1). Blank otherwise and for comparators.", optional_header=True),
        Column("displacement", NUMBER, "Share of the new drug's patients taken from this "
               "comparator (weights sum to 1 each year; blank for all: proportional to "
               "share_without).", optional_header=True),
        Column("source", TEXT, SOURCE_HELP, required=True, width=40),
    ),
    required=False,
)

#: Sheets in workbook order (KM_data and IPD_data stand for any number of user-named sheets).
SHEETS: tuple[Sheet, ...] = (
    SETTINGS_SHEET, PARAMETERS_SHEET, DIRICHLET_SHEET, STRATEGIES_SHEET, SURVIVAL_SHEET,
    SURVIVAL_COEFFICIENTS_SHEET, KM_SHEET, IPD_SHEET, LIFETABLE_SHEET, BUDGET_SHEET,
    BUDGET_SHARES_SHEET,
)

#: Columns that get a drop-down list in the template: (sheet, column) -> choices.
DROPDOWN_COLUMNS = {
    (sheet.name, col.name): col.choices
    for sheet in SHEETS for col in sheet.columns if col.choices
}

#: Settings that get a drop-down list on their value cell in the template.
DROPDOWN_SETTINGS = {s.name: s.choices for s in SETTINGS if s.kind == CHOICE}

#: Budget items that get a drop-down list on their value cell in the template.
DROPDOWN_BUDGET_ITEMS = {s.name: s.choices for s in BUDGET_ITEMS if s.kind == CHOICE}


def is_cost(name: str, unit: str | None) -> bool:
    """True if a parameter is a cost (unit starts with HK$ or name starts with c_)."""
    unit = (unit or "").strip()
    return name.startswith(COST_NAME_PREFIX) or unit.upper().startswith(COST_UNIT_PREFIX.upper())

