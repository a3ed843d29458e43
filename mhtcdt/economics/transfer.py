"""Transfer of costs between jurisdictions by purchasing power parity (PPP).

A cost C_A in the currency of jurisdiction A at price year y becomes, in jurisdiction B at the same price year,

    C_B = C_A x PPP_B(y) / PPP_A(y)

with PPP_X(y) the PPP for GDP of X in year y (national currency units per international dollar,
``data/ppp.toml``). This is the conversion the Cochrane/Campbell economics methods group recommends when no
local unit cost is available (Shemilt et al. 2010, the CCEMG-EPPI-Centre cost converter): it moves the *price
level*, not the resource use, so a transferred cost is the English resource use priced at the target country's
average price level, not a local tariff. Price years must match: no price index is packaged, so a transfer
across years is refused (the caller names the field).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mhtcdt.datafiles import load_toml
from mhtcdt.errors import InputError


def _ppp_data() -> dict[str, Any]:
    return load_toml("mhtcdt.economics", "data/ppp.toml")


@dataclass(frozen=True)
class PPPEntry:
    """One jurisdiction's PPP for GDP in one year [national currency units per international dollar]."""

    jurisdiction: str
    currency: str
    year: int
    value: float
    source: str
    verified: bool


def ppp(jurisdiction: str, year: int) -> PPPEntry:
    """The PPP for GDP of a jurisdiction (a key of ``hta.toml``) in a year; an :class:`InputError` naming
    ``jurisdiction`` or ``price_year`` when the table has none."""
    table = _ppp_data()["gdp"]
    if jurisdiction not in table:
        raise InputError("jurisdiction", jurisdiction, f"no PPP for this jurisdiction; PPPs exist for {sorted(table)}")
    entry = table[jurisdiction]
    by_year = {int(k): float(v) for k, v in entry["by_year"].items()}
    if int(year) not in by_year:
        raise InputError(
            "price_year", year, f"no PPP for {jurisdiction} in {year}; the table has the years {sorted(by_year)}"
        )
    return PPPEntry(
        jurisdiction=jurisdiction,
        currency=entry["currency"],
        year=int(year),
        value=by_year[int(year)],
        source=entry["source"],
        verified=bool(entry["verified"]),
    )


@dataclass(frozen=True)
class PPPTransfer:
    """The factor that moves a cost from one jurisdiction to another at one price year:
    ``factor = PPP_to / PPP_from`` [target currency per source currency]."""

    source: PPPEntry
    target: PPPEntry

    @property
    def factor(self) -> float:
        return self.target.value / self.source.value

    def apply(self, cost: float) -> float:
        """``cost`` (source currency) in the target currency: cost x PPP_to / PPP_from."""
        return float(cost) * self.factor

    @property
    def verified(self) -> bool:
        return self.source.verified and self.target.verified

    def note(self, source_label: str) -> str:
        """One sentence for every output of a run whose costs were transferred."""
        s, t = self.source, self.target
        return (
            f"Costs transferred from {source_label} {s.year} {s.currency} by PPP for GDP "
            f"({t.currency} {t.value:g} / {s.currency} {s.value:g} per international dollar = "
            f"{self.factor:.4f} {t.currency} per {s.currency}; World Bank WDI PA.NUS.PPP"
            f"{'' if self.verified else ', partly recalled'}), not local tariffs."
        )


def ppp_transfer(from_jurisdiction: str, to_jurisdiction: str, year: int) -> PPPTransfer:
    """The PPP transfer of costs from one jurisdiction to another at ``year`` (both PPPs of that year)."""
    return PPPTransfer(ppp(from_jurisdiction, year), ppp(to_jurisdiction, year))


def exchange_rate(quote: str, base: str, year: int) -> float:
    """A market exchange rate from ``data/ppp.toml`` [quote currency per base currency], e.g.
    ``exchange_rate("USD", "EUR", 2017)``; for traded goods priced in another currency."""
    rates = _ppp_data()["exchange_rates"]
    key = f"{base}_{int(year)}"
    name = f"{quote}_per_{base}"
    if key not in rates or name not in rates[key]:
        raise InputError("exchange_rate", f"{quote} per {base} {year}", "not in economics/data/ppp.toml")
    return float(rates[key][name])
