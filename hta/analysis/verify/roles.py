"""Parameter roles (cost, price, utility, ...) read from the parameter table's names, units and groups."""

from __future__ import annotations

import re

import pandas as pd

from hta.errors import HtaError

_CURRENCY = re.compile(r"^\s*(HK\$|US\$|A\$|C\$|S\$|NZ\$|\$|£|€|¥|HKD|USD|GBP|EUR|RMB|CNY|JPY|AUD|CAD)", re.I)
_EFFECT_NAME = re.compile(r"^(hr|rr|or|irr|af)(_|$)", re.I)
_EFFECT_UNITS = ("hazard ratio", "relative risk", "risk ratio", "odds ratio", "rate ratio", "acceleration factor")
ROLES = ("price", "cost", "utility", "disutility", "probability", "effect", "other")




def _role(p) -> str:
    name, unit, group = p.name.lower(), (p.unit or "").strip().lower(), (p.group or "").lower()
    is_cost = name.startswith("c_") or bool(_CURRENCY.match(p.unit or ""))
    if is_cost:
        return "price" if ("price" in name or "price" in group) else "cost"
    if name.startswith("du_") or "decrement" in unit or "disutility" in unit:
        return "disutility"
    if name.startswith("u_") or "utility" in unit:
        return "utility"
    if name.startswith("p_") or unit in ("probability", "proportion"):
        return "probability"
    if _EFFECT_NAME.match(name) or unit in _EFFECT_UNITS:
        return "effect"
    return "other"


def parameter_roles(table, overrides: dict | None = None) -> pd.DataFrame:
    """The role of every parameter of ``table``: one row per parameter (name, role, why).

    Convention (``docs/verification.md``): a **cost** has a name starting ``c_`` or a unit
    starting with a currency (``HK$``, ``GBP``, ...); a **price** is a cost whose name or group
    contains "price"; a **disutility** starts ``du_`` or has "decrement"/"disutility" in its unit;
    a **utility** starts ``u_`` or has "utility" in its unit; a **probability** starts ``p_`` or
    has unit "probability"/"proportion"; a relative **effect** (null value 1) is named ``hr``,
    ``rr``, ``or`` (alone or as a prefix ``hr_``...) or has a ratio unit. ``overrides``
    (``model.parameter_roles``) maps names to roles and wins over the convention.
    """
    overrides = dict(overrides or {})
    unknown = [n for n in overrides if n not in table]
    if unknown:
        raise HtaError(f"parameter_roles: no parameter named '{unknown[0]}' in the table")
    bad = [r for r in overrides.values() if r not in ROLES]
    if bad:
        raise HtaError(f"parameter_roles: role must be one of {', '.join(ROLES)}; found '{bad[0]}'")
    rows = []
    for p in table.parameters:
        if p.name in overrides:
            rows.append({"name": p.name, "role": overrides[p.name], "from": "model.parameter_roles"})
        else:
            rows.append({"name": p.name, "role": _role(p), "from": "name/unit/group convention"})
    return pd.DataFrame(rows, columns=["name", "role", "from"])
