"""Radiotherapy: LQ cell kill, fractionation calendars, repopulation, thermal radiosensitisation.

Equations (data in ``data/radiobiology.toml``)
---------------------------------------------
* LQ, n fractions of d Gy:  ``ln S = -n (alpha d + beta d^2) + gamma max(0, T - T_k)``,
  ``gamma = ln 2 / T_d`` (repopulation after the kick-off time T_k; T = overall treatment time, days,
  first to last fraction).
* Thermal radiosensitisation (per tumour element, per fraction)::

      alpha(T, dt) = alpha37 * (alpha41/alpha37) ** (((T - 37) / 4) * exp(-mu * dt))
      beta(T, dt)  = beta37  * (beta41/beta37)   ** (((T - 37) / 4) * exp(-mu * dt))

  T = the element's mean temperature over the most recent heat session that ended before the fraction,
  capped at ``temperature_cap_C`` (43 C by default; the fit spans 37-42 C and no source supports a thermal
  enhancement above ~2.5: heat above the cap acts through the direct kill only); no effect if T <= 37 C or
  no session preceded it; dt = hours from the end of that session.

Calendar: fractions on consecutive weekdays (``fractions_per_week`` integer <= 5: Monday.. ; 6-7 include the
weekend; non-integer or > 7: every 7/f days, several a day when f > 7). A fraction given on a day with
a heat session follows it by ``rt_heat_interval_hours``; other fractions are given at the same clock
time of day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mhtcdt.datafiles import load_toml
from mhtcdt.errors import InputError
from mhtcdt.physics.records import table_record

HOURS_PER_DAY = 24.0


def radiobiology_table() -> dict:
    """The parsed ``data/radiobiology.toml`` (cached and shared: read-only)."""
    return load_toml("mhtcdt.physics", "data/radiobiology.toml")


@dataclass(frozen=True)
class Radiobiology:
    """LQ parameters of one indication (alpha [1/Gy], beta [1/Gy^2], repopulation in days)."""

    alpha_per_Gy: float
    beta_per_Gy2: float
    doubling_time_days: float
    repopulation_kickoff_days: float
    infiltrative_clonogen_fraction: float = 0.0
    infiltrative_clonogen_fraction_range: tuple[float, float] = (0.0, 0.0)
    alpha_range_per_Gy: tuple[float, float] = (0.0, 0.0)
    source: str = ""
    verified: bool = False

    @property
    def alpha_beta_Gy(self) -> float:
        """alpha/beta [Gy]."""
        return self.alpha_per_Gy / self.beta_per_Gy2


@dataclass(frozen=True)
class Thermoradiosensitisation:
    """The alpha/beta modulation fit (module docstring) and the temperature it is capped at [C]."""

    alpha41_over_alpha37: float
    beta41_over_beta37: float
    mu_per_hour: float
    temperature_cap_C: float = 43.0


def known_indications() -> list[str]:
    """Indications with radiobiology parameters (radiobiology.toml [indications])."""
    return sorted(radiobiology_table()["indications"])


def radiobiology(indication: str) -> Radiobiology:
    """LQ parameters of ``indication`` (keys of radiobiology.toml [indications])."""
    table = radiobiology_table()["indications"]
    if indication not in table:
        raise InputError("indication", indication, f"no radiobiology for this indication; known: {known_indications()}")
    d = table[indication]
    alpha = float(d["alpha_per_Gy"])
    return Radiobiology(
        alpha,
        alpha / float(d["alpha_beta_Gy"]),
        float(d["doubling_time_days"]),
        float(d["repopulation_kickoff_days"]),
        float(d.get("infiltrative_clonogen_fraction", 0.0)),
        tuple(float(v) for v in d.get("infiltrative_clonogen_fraction_range", (0.0, 0.0))),
        tuple(float(v) for v in d.get("alpha_range_per_Gy", (alpha, alpha))),
        d["source"],
        bool(d["verified"]),
    )


def thermoradiosensitisation(temperature_cap_C: float | None = None) -> Thermoradiosensitisation:
    """Thermal radiosensitisation parameters (radiobiology.toml [thermoradiosensitisation]); the temperature
    cap from its ``[.cap]`` table unless ``temperature_cap_C`` is given."""
    d = radiobiology_table()["thermoradiosensitisation"]
    cap = float(d["cap"]["temperature_cap_C"]) if temperature_cap_C is None else float(temperature_cap_C)
    if not (math.isfinite(cap) and cap > 37.0):
        raise InputError("temperature_cap_C", cap, "must be a temperature above 37 C")
    return table_record(Thermoradiosensitisation, d, temperature_cap_C=cap)


def thermal_enhancement_distribution() -> dict:
    """The distribution of the thermal-enhancement scale s (radiobiology.toml [thermoradiosensitisation.enhancement]):
    ``{"distribution": "uniform", "low": ..., "high": ..., "source": ..., "verified": ...}``; the PSA samples it
    and :func:`thermal_enhancement_factor_default` is its median."""
    d = dict(radiobiology_table()["thermoradiosensitisation"]["enhancement"])
    if d.get("distribution") != "uniform" or not (0.0 <= float(d["low"]) < float(d["high"])):
        raise InputError(
            "radiobiology.toml:thermoradiosensitisation.enhancement",
            d,
            "must be a uniform distribution, 0 <= low < high",
        )
    return d


def thermal_enhancement_factor_default() -> float:
    """Deterministic thermal-enhancement scale s: the median (low + high) / 2 of its uniform distribution, so that the
    deterministic model sits at the centre of what the PSA samples (0.875: TER ~1.3 at 41 C for a 2 Gy glioblastoma
    fraction, within the clinical 1.2-2)."""
    d = thermal_enhancement_distribution()
    return 0.5 * (float(d["low"]) + float(d["high"]))


def schedule(name: str) -> tuple[float, int, float]:
    """A named schedule: (total_dose_Gy, n_fractions, fractions_per_week)."""
    table = radiobiology_table()["schedules"]
    if name not in table or name in ("source", "verified"):
        known = sorted(k for k in table if k not in ("source", "verified"))
        raise InputError("schedule", name, f"unknown schedule; known: {known}")
    total, n, per_week = table[name]
    return float(total), int(n), float(per_week)


def check_schedule(total_dose_Gy: float, n_fractions: int, fractions_per_week: float) -> None:
    """InputError naming the field for an RT schedule outside the model's range (dose >= 0 Gy with
    fractions, <= 30 Gy per fraction, 0 < fractions per week <= 14)."""
    if not (math.isfinite(total_dose_Gy) and total_dose_Gy >= 0):
        raise InputError("rt_total_dose_Gy", total_dose_Gy, "must be a finite dose >= 0 Gy")
    if not (isinstance(n_fractions, int | np.integer) and n_fractions >= 0):
        raise InputError("rt_n_fractions", n_fractions, "must be an integer >= 0")
    if (total_dose_Gy > 0) != (n_fractions > 0):
        raise InputError(
            "rt_n_fractions", n_fractions, f"a dose of {total_dose_Gy} Gy needs fractions (and vice versa)"
        )
    if n_fractions and total_dose_Gy / n_fractions > 30.0:
        raise InputError(
            "rt_total_dose_Gy", total_dose_Gy, "more than 30 Gy per fraction is outside the LQ model's range"
        )
    if not (math.isfinite(fractions_per_week) and 0 < fractions_per_week <= 14):
        raise InputError("rt_fractions_per_week", fractions_per_week, "must lie in (0, 14] (14 = twice daily)")


def fraction_days(n_fractions: int, fractions_per_week: float) -> np.ndarray:
    """Day index (0 = first treatment day, a Monday) of each fraction."""
    i = np.arange(n_fractions)
    f = fractions_per_week
    if abs(f - round(f)) < 1e-9 and f <= 7:
        per = int(round(f))
        return (7 * (i // per) + (i % per)).astype(np.float64)
    return np.floor(i * 7.0 / f)


def lq_log_survival(
    dose_per_fraction_Gy: float,
    n_fractions: int,
    alpha_per_Gy: float,
    beta_per_Gy2: float,
    overall_time_days: float = 0.0,
    doubling_time_days: float = math.inf,
    kickoff_days: float = math.inf,
) -> float:
    """Natural-log surviving fraction of the LQ model with optional repopulation (closed form)."""
    ln_s = -n_fractions * (alpha_per_Gy * dose_per_fraction_Gy + beta_per_Gy2 * dose_per_fraction_Gy**2)
    if math.isfinite(doubling_time_days) and overall_time_days > kickoff_days:
        ln_s += math.log(2.0) / doubling_time_days * (overall_time_days - kickoff_days)
    return ln_s


def fraction_times_hours(
    n_fractions: int,
    fractions_per_week: float,
    session_start_hours: np.ndarray,
    session_hours: float,
    rt_heat_interval_hours: float,
) -> np.ndarray:
    """Time of each fraction [h from the first treatment day 00:00], following a same-day heat session."""
    days = fraction_days(n_fractions, fractions_per_week)
    clock = session_hours + rt_heat_interval_hours  # default clock time of day (h) for every fraction
    times = days * HOURS_PER_DAY + clock
    for k, day in enumerate(days):
        same_day = session_start_hours[np.floor(session_start_hours / HOURS_PER_DAY) == day]
        if same_day.size:
            times[k] = same_day.max() + session_hours + rt_heat_interval_hours
    return times


def rt_log_survival_elements(
    total_dose_Gy: float,
    n_fractions: int,
    fractions_per_week: float,
    rb: Radiobiology,
    *,
    element_session_mean_C: np.ndarray | None = None,
    session_start_hours: np.ndarray | None = None,
    session_hours: float = 1.0,
    rt_heat_interval_hours: float = 1.0,
    trs: Thermoradiosensitisation | None = None,
) -> tuple[float, np.ndarray]:
    """RT log survival at 37 C (scalar) and with thermal radiosensitisation per element.

    element_session_mean_C: (..., n_sessions) mean element temperature during each heat session [C]
    (None = no heat; leading axes e.g. patients x elements). Returns ``(ln_S_rt_37, ln_S_rt_heated[...])``;
    the second minus the first is the heat x RT interaction (<= 0).
    """
    check_schedule(total_dose_Gy, n_fractions, fractions_per_week)
    if n_fractions == 0:
        shape = (0,) if element_session_mean_C is None else np.shape(element_session_mean_C)[:-1]
        return 0.0, np.zeros(shape)
    d = total_dose_Gy / n_fractions
    days = fraction_days(n_fractions, fractions_per_week)
    overall = float(days[-1] - days[0])
    ln37 = lq_log_survival(
        d,
        n_fractions,
        rb.alpha_per_Gy,
        rb.beta_per_Gy2,
        overall,
        rb.doubling_time_days,
        rb.repopulation_kickoff_days,
    )
    if element_session_mean_C is None or session_start_hours is None or len(session_start_hours) == 0:
        shape = (0,) if element_session_mean_C is None else np.shape(element_session_mean_C)[:-1]
        return ln37, np.full(shape, ln37)
    trs = trs or thermoradiosensitisation()
    temps = np.asarray(element_session_mean_C, dtype=np.float64)
    starts = np.asarray(session_start_hours, dtype=np.float64)
    ends = starts + session_hours
    times = fraction_times_hours(n_fractions, fractions_per_week, starts, session_hours, rt_heat_interval_hours)
    repop = ln37 + n_fractions * (rb.alpha_per_Gy * d + rb.beta_per_Gy2 * d * d)  # repopulation term alone
    ln_heated = np.full(temps.shape[:-1], repop)
    la = math.log(trs.alpha41_over_alpha37)
    lb = math.log(trs.beta41_over_beta37)
    for tf in times:
        prior = np.flatnonzero(ends <= tf + 1e-9)
        if prior.size == 0:
            ln_heated -= rb.alpha_per_Gy * d + rb.beta_per_Gy2 * d * d
            continue
        j = int(prior[-1])
        dt = tf - ends[j]
        t_eff = np.minimum(temps[..., j], trs.temperature_cap_C)
        x = np.maximum(t_eff - 37.0, 0.0) / 4.0 * math.exp(-trs.mu_per_hour * dt)
        alpha = rb.alpha_per_Gy * np.exp(la * x)
        beta = rb.beta_per_Gy2 * np.exp(lb * x)
        ln_heated -= alpha * d + beta * d * d
    return ln37, ln_heated
