"""The flagship model (``models/fucaso_rrmm.py``) written as a formula-live Excel workbook.

Each function mirrors a part of :class:`models.fucaso_rrmm.FucasoModel` with the toolkit of
:mod:`hta.excel.formula_model`: the same curves, general-population floor, partition or
state-transition structure, cost and QALY lines and intention-to-treat combination, as Excel
formulas of the Parameters sheet. ``tests/test_excel_model.py`` recalculates the workbook with
LibreOffice and checks every total against :meth:`FucasoModel.evaluate` (1e-9 relative), so a
change to the model that is not mirrored here fails the tests.
"""

from __future__ import annotations

from hta.excel.formula_model import CycleSheet, ModelBook, excel_name
from hta.units import DAYS_PER_YEAR, months_per_unit

from .fucaso_common import STATES

#: Months per cycle, as a formula of the cycle length (monthly inputs -> per cycle).
PER_CYCLE = "(cycle_years*12)"
#: Cost lines the intention-to-treat pathway pays at leukapheresis for everyone apheresed.
AT_APHERESIS = ("leukapheresis", "bridging therapy")


def _p(name: str) -> str:
    return excel_name(name)


def _curve(sheet: CycleSheet, model, strategy: str, endpoint: str, floor: str) -> str:
    spec = model.survival[(strategy, endpoint)]
    coef = {c: _p(n) for c, n in zip(spec.coef_names, spec.param_names)}
    cure = _p(model.cure[strategy]) if strategy in model.cure else None
    return sheet.parametric_survival(f"S_{endpoint}", spec.distribution, coef,
                                     units_per_year=12.0 / months_per_unit(spec.time_unit), floor=floor, cure=cure,
                                     header=f"{endpoint} ({spec.distribution})")


def _cohort(sheet: CycleSheet, model, strategy: str) -> None:
    """Curves, occupancy and the events 'death', 'pfs_event', 'progression' of one strategy."""
    bg = sheet.general_population("bg")
    sheet.column("q_bg", f"1-EXP(-({{{bg}}}-{{{bg}[-1]}}))", header="general-population death probability in the cycle",
                 per_cycle=True)
    pf, pd, dead = STATES
    pfs = _curve(sheet, model, strategy, "PFS", bg)
    if model.structure == "psm":
        os_ = _curve(sheet, model, strategy, "OS", bg)
        sheet.partition([pfs, os_], STATES)
        # progressions: PFS events less pre-progression deaths at general-population rates
        sheet.event("progression", f"MAX({{ev_pfs_event}}-{{{pf}[-1]}}*{{q_bg}},0)",
                    header="event: progressions (PFS events less background deaths)")
        return
    # State-transition structure: exits from progression-free follow PFS; deaths among them at
    # general-population rates; after progression a constant rate, never below the population's.
    sheet.column("p_exit", f"MIN(MAX(IF({{{pfs}[-1]}}>0,1-{{{pfs}}}/{{{pfs}[-1]}},1),0),1)",
                 header="probability of leaving progression-free", per_cycle=True)
    sheet.markov(STATES, [1.0, 0.0, 0.0], {
        (pf, pd): "{p_exit}-MIN({q_bg},{p_exit})",
        (pf, dead): "MIN({q_bg},{p_exit})",
        (pd, dead): f"MAX(1-EXP(-{_p('pps_rate_month')}*{PER_CYCLE}),{{q_bg}})",
    })
    sheet.event("death", f"{{ev_{pf}->{dead}}}+{{ev_{pd}->{dead}}}", header="event: deaths")
    sheet.event("progression", f"{{ev_{pf}->{pd}}}", header="event: progressions")


def _pathway(book: ModelBook, model, strategy: str, title: str, label: str) -> list:
    """One strategy's sheet (infused pathway for eque-cel); returns its lines (measure, category, formula)."""
    p = _p
    pf, pd, _ = STATES
    sheet = book.cycle_sheet(title, label)
    _cohort(sheet, model, strategy)
    sheet.person_time()
    lines = [("ly", "life-years", sheet.life_years())]
    u_pf, u_pd = p("u_pf"), f"({p('u_pf')}-{p('du_pd')})"   # progressed = progression-free minus a decrement
    if model.utility_norms is not None:
        m = sheet.age_multiplier()
        u_pf, u_pd = f"{{{m}}}*{u_pf}", f"{{{m}}}*{u_pd}"
    lines.append(("qaly", "QALYs", sheet.qalys({pf: u_pf, pd: u_pd})))
    followup = f"{p('n_visits_followup_month')}*{p('c_sopc')}"
    ward, sopc, icu = p("c_ward_day"), p("c_sopc"), p("c_icu_day")
    if strategy == "cc":
        lines.append(("cost", "conventional-care regimen",
                      sheet.state_cost("conventional-care regimen", {pf: f"{p('c_cc_regimen_month')}*{PER_CYCLE}"})))
        lines.append(("cost", "out-patient care (progression-free)",
                      sheet.state_cost("out-patient care (progression-free)",
                                       {pf: f"{p('n_visits_on_treatment_month')}*{sopc}*{PER_CYCLE}"})))
    else:
        lines.append(("cost", "out-patient care (progression-free)",
                      sheet.state_cost("out-patient care (progression-free)", {pf: f"{followup}*{PER_CYCLE}"})))
    lines.append(("cost", "out-patient care (progressed)",
                  sheet.state_cost("out-patient care (progressed)", {pd: f"{followup}*{PER_CYCLE}"})))
    lines.append(("cost", "terminal care", sheet.event_cost("terminal care", {"death": f"{p('terminal_care_days')}*{ward}"})))
    lines.append(("cost", "subsequent therapy", sheet.state_cost("subsequent therapy", {
        pd: f"{p(f'p_pd_on_subsequent_{strategy}')}*{p(f'c_subsequent_month_{strategy}')}*{PER_CYCLE}"})))
    ae_years = f"{p('ae_duration_days')}/{DAYS_PER_YEAR!r}"
    if strategy == "cc":
        lines.append(("cost", "adverse events", f"{p('p_teae_g34_cc')}*{p('ward_days_ae_cc')}*{ward}"))
        lines.append(("qaly", "adverse events", f"-{p('p_teae_g34_cc')}*{p('du_ae_cc')}*{ae_years}"))
        return lines
    # long-term follow-up: a yearly cost while alive, in cycles k <= ltfu_years / cycle length
    ltfu = f"IF({{k}}<=INT({p('ltfu_years')}/cycle_years+1E-9),{p('c_ltfu_year')}/12*{PER_CYCLE},0)"
    lines.append(("cost", "long-term follow-up", sheet.state_cost("long-term follow-up", {pf: ltfu, pd: ltfu})))
    cart = {
        "CAR-T acquisition": p("c_eqcel_price"),
        "leukapheresis": f"{p('n_apheresis_sessions')}*{p('c_apheresis_session')}+{sopc}",
        "bridging therapy": f"{p('p_bridging')}*{p('bridging_months')}*{p('c_cc_regimen_month')}",
        "lymphodepletion": f"{p('c_lymphodepletion_drugs')}+{p('n_lymphodepletion_visits')}*{sopc}",
        "infusion admission": f"{p('los_cart_days')}*{ward}",
        "CRS/ICANS management": f"{p('p_crs_g3_eqcel')}*{p('icu_days_crs_g3')}*({icu}-{ward})"
                                f"+{p('p_icans_eqcel')}*{p('extra_ward_days_icans')}*{ward}"
                                f"+{p('p_tocilizumab_eqcel')}*{p('n_tocilizumab_doses')}*{p('c_tocilizumab_dose')}",
        "immunoglobulin": f"{p('p_ivig')}*{p('c_ivig_month')}*{p('ivig_months')}",
        "post-infusion monitoring": f"{p('n_monitoring_visits')}*{sopc}",
        "adverse events": f"{p('p_infection_g34_eqcel')}*{p('ward_days_infection')}*{ward}",
    }
    lines += [("cost", c, f) for c, f in cart.items()]
    lines.append(("qaly", "adverse events",
                  f"-({p('p_crs_g12_eqcel')}*{p('du_crs_g12')}+{p('p_crs_g3_eqcel')}*{p('du_crs_g3')}"
                  f"+{p('p_icans_eqcel')}*{p('du_icans')}+{p('p_infection_g34_eqcel')}*{p('du_infection_g34')})*{ae_years}"))
    return lines


def _itt_quantities(book: ModelBook) -> None:
    """The pre-infusion phase (FucasoModel._itt / _delay_factors) as named Results cells."""
    disc = lambda r, t: f'IF(discount_method="continuous",EXP(-{r}*{t}),(1+{r})^(-{t}))'  # noqa: E731
    book.derive("itt_delay_years", f"MIN({_p('bridging_months')}/12,n_cycles*cycle_years)",
                "pre-infusion phase (vein-to-vein time, years), cut at the horizon")
    book.derive("itt_starts", "IF(itt_delay_years<n_cycles*cycle_years,1,0)",
                "1 if the post-phase pathways start within the horizon")
    book.derive("itt_p_infused", f"itt_starts*(1-{_p('p_not_infused')})", "share infused at the end of the phase")
    book.derive("itt_p_death", f"{_p('p_not_infused')}*{_p('p_death_if_not_infused')}",
                "share dying before infusion (at the phase's midpoint)")
    book.derive("itt_p_not_infused", f"itt_starts*({_p('p_not_infused')}-itt_p_death)",
                "share never infused and alive at the end of the phase (conventional care)")
    book.derive("itt_df_costs", disc("discount_costs", "itt_delay_years"), "discount factor of costs at the end of the phase")
    book.derive("itt_df_outcomes", disc("discount_outcomes", "itt_delay_years"),
                "discount factor of outcomes at the end of the phase")
    book.derive("itt_pv_years", 'IF(discount_outcomes=0,itt_delay_years,(1-itt_df_outcomes)/IF(discount_method="continuous",'
                                'discount_outcomes,LN(1+discount_outcomes)))',
                "discounted length of the phase (years): integral of the discount factor")
    book.derive("itt_df_costs_half", disc("discount_costs", "itt_delay_years/2"),
                "discount factor of costs at the phase's midpoint (pre-infusion deaths)")
    book.derive("itt_df_outcomes_half", disc("discount_outcomes", "itt_delay_years/2"),
                "discount factor of outcomes at the phase's midpoint")
    book.derive("itt_pv_half", 'IF(discount_outcomes=0,itt_delay_years/2,(1-itt_df_outcomes_half)/IF(discount_method="continuous",'
                               'discount_outcomes,LN(1+discount_outcomes)))',
                "discounted length of the first half of the phase (years)")
    book.derive("itt_pre_ly", "itt_pv_years-itt_p_death*(itt_pv_years-itt_pv_half)",
                "discounted life-years of the phase (those dying before infusion live half of it)")


def build_book(model) -> ModelBook:
    """The formula-live workbook of ``model``'s base case (not yet saved)."""
    s = model.settings
    grid = model.grid
    frame = model.parameters.to_frame()
    parameters = {r["name"]: (float(r["base"]), r.get("unit", ""), r.get("description", ""), r.get("source", ""))
                  for r in frame.to_dict("records")}
    settings = {"cycle_years": grid.cycle_years, "n_cycles": grid.n_cycles, "discount_costs": float(s.discount_costs),
                "discount_outcomes": float(s.discount_outcomes), "discount_method": str(s.discount_method).strip().lower(),
                "within_cycle": _canonical(s.within_cycle), "start_age": float(s.start_age), "male_share": float(s.male_share)}
    wtp_labels = {}
    for i, (label, value) in enumerate(s.wtp, start=1):
        settings[f"wtp_{i}"] = float(value)
        wtp_labels[f"wtp_{i}"] = f"{label} (HK${value:,.0f})"
    structure = "partitioned survival" if model.structure == "psm" else "state-transition (semi-Markov)"
    population = "intention to treat from leukapheresis" if model.itt else "infused population"
    book = ModelBook(grid=grid, settings=settings, parameters=parameters, lifetable=model.lifetable,
                     utility_norms=model.utility_norms,
                     title=f"Eque-cel (Fucaso) vs conventional care: {structure}, {population}", wtp_labels=wtp_labels)
    labels = model.strategy_labels
    cc = _pathway(book, model, "cc", "cc", labels.get("cc", "conventional care"))
    title = "eqcel infused" if model.itt else "eqcel"
    eq = _pathway(book, model, "eqcel", title, labels.get("eqcel", "eque-cel") + (" (infused pathway)" if model.itt else ""))
    book.strategies = [(st, labels.get(st, st)) for st in model.strategies]
    for measure, category, formula in cc:
        book.line("cc", measure, category, formula)
    if not model.itt:
        for measure, category, formula in eq:
            book.line("eqcel", measure, category, formula)
        return book
    _itt_quantities(book)
    for measure, category, formula in eq:
        if measure == "cost" and category in AT_APHERESIS:
            book.line("eqcel", measure, category, formula)
        else:
            df = "itt_df_costs" if measure == "cost" else "itt_df_outcomes"
            book.line("eqcel", measure, category, f"itt_p_infused*{df}*({formula})")
    for measure, category, formula in cc:
        df = "itt_df_costs" if measure == "cost" else "itt_df_outcomes"
        book.line("eqcel", measure, f"not infused: {category}", f"itt_p_not_infused*{df}*({formula})")
    book.line("eqcel", "cost", "pre-infusion deaths: terminal care",
              f"itt_p_death*{_p('terminal_care_days')}*{_p('c_ward_day')}*itt_df_costs_half")
    book.line("eqcel", "ly", "pre-infusion (leukapheresis to infusion)", "itt_pre_ly")
    book.line("eqcel", "qaly", "pre-infusion (leukapheresis to infusion)",
              f"({_p('u_pf')}-{_p('du_pre_infusion')})*itt_pre_ly")
    return book


def _canonical(method: str) -> str:
    from hta.engine.timegrid import canonical_method

    return canonical_method(method)
