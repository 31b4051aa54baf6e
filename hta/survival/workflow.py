"""``hta fit``: reconstruct and fit the survival inputs of a workbook.

For every survival input given as digitised Kaplan-Meier points (reconstructed to pseudo-IPD with
the Guyot algorithm) or as IPD, fit the seven standard parametric distributions and tabulate
log-likelihood, AIC, BIC, coefficients and covariance in the layout of the ``SurvivalCoefficients``
sheet, so the analyst can copy the chosen fit into the model's workbook (NICE DSU TSD 14).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hta.errors import HtaError
from hta.survival.fit import fit
from hta.survival.reconstruct import reconstruct_ipd


@dataclass
class CurveFits:
    strategy: str
    endpoint: str
    time_unit: str
    ipd: pd.DataFrame
    fits: object               # hta.survival.fit.FitResult
    reconstruction: object = None   # ReconstructionReport for km inputs


@dataclass
class WorkbookFits:
    curves: list = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        """One row per curve and distribution: fit statistics and AIC rank."""
        rows = []
        for c in self.curves:
            t = c.fits.table.reset_index().rename(columns={"index": "distribution"})
            t = t[[col for col in ("distribution", "loglik", "aic", "bic", "n_par", "converged") if col in t.columns]]
            t.insert(0, "endpoint", c.endpoint)
            t.insert(0, "strategy", c.strategy)
            t["aic_rank"] = t["aic"].rank(method="min")
            t["n_patients"] = len(c.ipd)
            t["n_events"] = int(c.ipd["event"].sum())
            rows.append(t)
        return pd.concat(rows, ignore_index=True)

    def coefficients(self) -> pd.DataFrame:
        """Coefficients and covariance rows in the SurvivalCoefficients layout (one per coefficient)."""
        rows = []
        for c in self.curves:
            for dist, model in c.fits.items():
                if not model.converged:
                    continue
                names = list(model.coef.index)
                cov = np.asarray(model.cov)
                for i, name in enumerate(names):
                    row = {"strategy": c.strategy, "endpoint": c.endpoint, "distribution": dist,
                           "time_unit": c.time_unit, "coefficient": name, "estimate": float(model.coef.iloc[i])}
                    for j in range(3):
                        row[f"cov_{j + 1}"] = float(cov[i, j]) if j < len(names) else np.nan
                    rows.append(row)
        return pd.DataFrame(rows)

    def reconstruction(self) -> pd.DataFrame:
        rows = []
        for c in self.curves:
            r = c.reconstruction
            if r is None:
                continue
            rows.append({"strategy": c.strategy, "endpoint": c.endpoint, "patients": len(c.ipd),
                         "events": int(c.ipd["event"].sum()), "max_abs_diff": r.max_abs_diff,
                         "cleaning": "; ".join(r.cleaning) or "none needed", "report": str(r)})
        return pd.DataFrame(rows)


def fit_workbook(inputs, distributions=None) -> WorkbookFits:
    """Reconstruct (km) and fit (km, ipd) every non-parametric survival input of ``inputs``."""
    out = WorkbookFits()
    for (strategy, endpoint), si in inputs.survival.items():
        if si.kind == "parametric":
            continue
        if si.kind == "km":
            at_risk = si.at_risk if si.at_risk is not None and len(si.at_risk) else si.n_at_risk_0
            if at_risk is None:
                raise HtaError(f"{inputs.path.name}, sheet '{si.data_sheet}': expected a numbers-at-risk table or "
                               f"n_at_risk_0 for strategy '{strategy}', endpoint '{endpoint}'; found neither")
            ipd = reconstruct_ipd(si.km, at_risk=at_risk, total_events=si.total_events)
            report = ipd.attrs.get("report")
        else:
            ipd, report = si.ipd, None
        fits = fit(ipd["time"].to_numpy(float), ipd["event"].to_numpy(int), distributions)
        out.curves.append(CurveFits(strategy, endpoint, si.time_unit, ipd[["time", "event"]], fits, report))
    if not out.curves:
        raise HtaError(f"{inputs.path.name}, sheet 'Survival': expected at least one survival input of type km or ipd "
                       f"to fit; found only parametric curves")
    return out
