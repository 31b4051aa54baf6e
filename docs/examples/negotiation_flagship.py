"""Example: the issue-22 engine on the flagship model (read-only use of models/fucaso_rrmm.py).

Run from the repository root:  PYTHONPATH=. python docs/examples/negotiation_flagship.py [n_draws]

Shows the calls the flagship and the report make (docs/agreements.md, docs/voi.md "EVSI"):
price-negotiation grid and threshold discounts, EVSI of further eque-cel OS follow-up beside the
EVPPI of the OS parameters, results by payer, the capacity-limited waiting list. Inputs marked
ILLUSTRATIVE below are placeholders for workbook inputs the flagship owner will source.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from hta.analysis import agreements as A
from hta.analysis import capacity as K
from hta.analysis import evsi as E
from hta.analysis import payers as P
from hta.excel.reader import read_inputs
from hta.survival.curves import make_curve
from hta.analysis.voi import evppi
from models import fucaso_rrmm

pd.set_option("display.width", 200)
N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000

inputs = read_inputs("inputs/fucaso_hk.xlsx")
model = fucaso_rrmm.build(inputs)
batch = model.parameters.sample(N, 2026)
out = model.evaluate(batch)
costs, qalys = out.costs, out.qalys  # (n, 2): cc, eqcel
k1, k3 = inputs.settings.wtp_values[:2]  # 1x and 3x GDP per capita (the workbook's wtp_1, wtp_2)

# ---- price negotiation ------------------------------------------------------------------------
price = np.asarray(batch["c_eqcel_price"], dtype=float)
acq = out["eqcel"].by("cost")["CAR-T acquisition"]  # ITT: paid on infusion, discounted to it
curves = model.survival_curves(batch)
ctx = A.PaymentContext(times=model.grid.times,
                       survival={"alive": curves[("eqcel", "OS")], "progression-free": curves[("eqcel", "PFS")]},
                       discount_rate=model.settings.discount_costs,
                       patients_per_year=np.full(5, 30.0),  # ILLUSTRATIVE: HA's ~30 CAR-T slots a year
                       draws={"p_not_infused": np.asarray(batch["p_not_infused"], dtype=float)})
schemes = {
    "discount only (pay on infusion)": (A.SimpleDiscount(), acq),
    "12-month OS instalment (50% upfront)": (A.OutcomeBased(0.5, (A.Instalment(1.0, 0.5, "alive"),)), acq),
    "pay at apheresis, refund if not infused": (A.NotInfusedRefund("p_not_infused"), price),
}
grid, thresholds = [], []
for label, (scheme, billed) in schemes.items():
    grid.append(A.negotiation_grid({label: scheme}, [0.0, 0.2, 0.4], costs, qalys, billed, [k1, k3],
                                   context=ctx, acquisition_in_model=acq))
    thresholds.append(A.threshold_discounts({label: scheme}, costs, qalys, billed, [k1, k3],
                                            context=ctx, acquisition_in_model=acq))
print(pd.concat(grid).round(3).to_string(index=False))
print(pd.concat(thresholds).round(4).to_string(index=False))

# ---- EVSI of further OS follow-up -------------------------------------------------------------
spec = model.survival[("eqcel", "OS")]
curve = make_curve(spec.distribution, np.column_stack([np.asarray(batch[c], dtype=float) for c in spec.param_names]))
frame = batch.to_frame()
# at the 1x-GDP threshold price of the plain discount, where the decision is uncertain
d_star = float(thresholds[0].threshold_discount.iloc[0])
nb = k1 * qalys - A.scheme_costs(costs, 1, acq, A.SimpleDiscount(), round(d_star, 2), ctx, acq)
print(f"EVSI at discount {round(d_star, 2)} and WTP {k1:.0f}; EVPI {E._evpi(nb):.0f}; "
      f"EVPPI(eque-cel OS) {evppi(nb, frame, list(spec.param_names)):.0f}")
for months in (12, 24, 36):
    # ILLUSTRATIVE design: 80 FUMANBA-1 patients alive at 13.8 months' follow-up
    design = E.SurvivalFollowUp(curve, n_at_risk=80, current_followup=13.8, additional_followup=months)
    for method in ("gam", "gp"):
        rep = E.evsi_replicates(nb, None, design, seeds=(1, 2, 3), method=method)
        pop = E.population_evsi(rep.attrs["mean"], 30.0, model.settings.discount_costs, years=5)
        print(f"  {months} months, {method}: EVSI {rep.attrs['mean']:.0f} (SD over seeds {rep.attrs['sd']:.0f}), "
              f"R2 {rep.r_squared.mean():.4f}, population EVSI (30/yr, 5 yr) {pop:,.0f}")

# ---- payers (ILLUSTRATIVE shares: conventional-care drugs and subsequent therapy self-financed) --
categories = sorted(set(out["cc"].by("cost")) | set(out["eqcel"].by("cost")))
by_cat = np.stack([np.stack([out[s].by("cost").get(c, np.zeros(N)) for c in categories], axis=1)
                   for s in ("cc", "eqcel")], axis=1)
self_financed = {c for c in categories if "regimen" in c or "subsequent" in c}
shares = P.PayerShares({c: ({"HA": 0.2, "SF/CCF": 0.5, "patient": 0.3} if c in self_financed else {"HA": 1.0})
                        for c in categories})
print(P.payer_table(by_cat, ["cc", "eqcel"], categories, shares).round(3).to_string())

# ---- capacity (ILLUSTRATIVE demand, slots and attrition) ---------------------------------------
flow = K.waiting_list(np.array([60.0, 70.0, 80.0, 90.0, 100.0]), 30.0, p_death_month=0.03, p_progression_month=0.05)
print("treated/yr", flow.treated_year.round(1)[0], "left the list/yr", flow.left_year.round(1)[0],
      "waiting at year end", flow.waiting_end_of_year.round(1)[0],
      "discounted treated patients", round(K.discounted_patients(flow.treated_year[0], 0.03), 1))
