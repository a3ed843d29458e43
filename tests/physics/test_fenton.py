"""pH- and temperature-dependent Fenton rate (Millero & Sotolongo 1989) and the .OH/ferryl yield, against the
published equations, water's ion product and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mhtcdt.datafiles import load_toml
from mhtcdt.physics import chemistry as ch
from mhtcdt.physics import fenton

IONIC = 0.15


def _coef(ionic: float = IONIC) -> np.ndarray:
    chem = load_toml("mhtcdt.physics", "data/chemistry.toml")
    return fenton.pack_coefficients(chem["fenton"], chem["water"], ionic)


def test_ion_product_of_water_matches_tabulated_values() -> None:
    """pKw = 13.995 at 25 C and 13.62 at 37 C (standard tables, e.g. CRC Handbook)."""
    c = _coef()
    assert fenton.pkw(298.15, c) == pytest.approx(13.995, abs=0.01)
    assert fenton.pkw(310.15, c) == pytest.approx(13.62, abs=0.01)


def test_species_constants_are_the_published_equations() -> None:
    """k0 and k1 exactly as the abstract's equations (re-typed here); the dossier's derived numbers hold."""
    c = _coef()
    r = math.sqrt(IONIC)
    for temp_K in (278.15, 298.15, 310.15, 318.15):
        k0 = 10 ** (c[fenton.C_K0_A] - c[fenton.C_K0_B] / temp_K)
        k1 = 10 ** (c[fenton.C_K1_A] - c[fenton.C_K1_B] / temp_K)
        assert k0 == pytest.approx(10 ** (8.37 - 1866 / temp_K), rel=1e-12)
        assert k1 == pytest.approx(10 ** (17.26 - 2948 / temp_K - 1.70 * r + 1.20 * IONIC), rel=1e-12)
        # at pH 3 FeOH+ adds 0.5-2 % (5-45 C): k ~ k0
        assert k0 < fenton.rate_constant(temp_K, 3.0, c) < 1.03 * k0
    assert 10 ** (8.37 - 1866 / 310.15) == pytest.approx(2.3e2, rel=0.03)  # dossier 6a: ~2.3e2 at 37 C
    assert 10 ** (8.37 - 1866 / 298.15) == pytest.approx(1.3e2, rel=0.03)  # ~1.3e2 at 25 C


def test_near_neutral_rate_is_k2_times_hydroxide() -> None:
    """pH 6-8: -d[Fe(II)]/dt = k2 [Fe(II)][H2O2][OH-] with log k2 = 11.72 - 2.14 I^0.5 + 1.38 I (abstract), so
    k = k0 + k2 [OH-] up to the small FeOH+ fraction, and log k rises one unit per pH unit."""
    c = _coef()
    k2 = 10 ** (11.72 - 2.14 * math.sqrt(IONIC) + 1.38 * IONIC)
    for ph in (6.0, 6.5, 7.0, 7.2, 7.5):  # the FeOH+ fraction x/(1 + x) stays below 1 %
        oh = fenton.hydroxide_M(310.15, ph, c)
        k = fenton.rate_constant(310.15, ph, c)
        k0 = 10 ** (8.37 - 1866 / 310.15)
        assert k == pytest.approx(k0 + k2 * oh, rel=1e-2)
    slope = math.log10(fenton.rate_constant(310.15, 7.5, c) / fenton.rate_constant(310.15, 7.0, c)) / 0.5
    assert slope == pytest.approx(1.0, abs=0.02)


def test_fixed_ph_temperature_law_matches_the_published_ph6_equation() -> None:
    """The abstract gives, at pH 6, log k = 13.73 - 2948/T - 1.707 I^0.5 + 1.20 I (their pH is a concentration
    scale: pH_c = pH_a + log10 gamma_H). The species model, whose temperature dependence at fixed pH comes from
    Kw(T), reproduces it within 6 % from 5 to 45 C."""
    c = _coef()
    log_gamma = c[fenton.C_LOG_GAMMA_OH]
    for temp_C in (5.0, 15.0, 25.0, 37.0, 45.0):
        t = temp_C + 273.15
        published = 10 ** (13.73 - 2948 / t - 1.707 * math.sqrt(IONIC) + 1.20 * IONIC + log_gamma)
        assert fenton.rate_constant(t, 6.0, c) == pytest.approx(published, rel=0.06)


def test_cytosolic_rate_and_heat_sensitivity() -> None:
    """Dossier 6a (derived, checked here): at 37 C, I = 0.15 M, k = 5e4-8e4 at pH 7.2, 2e4-3e4 at 6.8, 1e4-1.6e4
    at 6.5 and 8e4-1.3e5 at 7.4 (1/(M s)); ~300-700x the legacy pH-3 constant at 37 C; at fixed pH the apparent
    activation energy is that of Kw (~54 kJ/mol; the abstract's pH-6 slope 2948 K gives 56)."""
    c = _coef()
    bands = {7.2: (5e4, 8e4), 6.8: (2e4, 3e4), 6.5: (1e4, 1.6e4), 7.4: (8e4, 1.3e5)}
    for ph, (lo, hi) in bands.items():
        assert lo <= fenton.rate_constant(310.15, ph, c) <= hi
    legacy = ch.arrhenius(63.0, 39e3, 298.15, 37.0)
    assert 300 < fenton.rate_constant(310.15, 7.2, c) / legacy < 700
    k37, k42 = fenton.rate_constant(310.15, 7.2, c), fenton.rate_constant(315.15, 7.2, c)
    ea = ch.GAS_CONSTANT * math.log(k42 / k37) / (1 / 310.15 - 1 / 315.15) / 1e3
    assert 50.0 < ea < 58.0


def test_oh_yield_switches_from_oh_in_acid_to_the_ligated_share_near_neutral() -> None:
    assert fenton.oh_yield(2.0, 0.0, 4.0) == pytest.approx(1.0, abs=0.01)  # acidic: .OH
    assert fenton.oh_yield(7.2, 0.0, 4.0) == pytest.approx(0.0, abs=1e-3)  # uncomplexed, neutral: ferryl
    assert fenton.oh_yield(7.2, 0.6, 4.0) == pytest.approx(0.6, abs=1e-3)  # ligated share gives .OH
    assert fenton.oh_yield(4.0, 0.0, 4.0) == pytest.approx(0.5)  # half at the switch pKa
    ys = [fenton.oh_yield(ph, 0.3, 4.0) for ph in np.linspace(2, 9, 15)]
    assert all(a >= b for a, b in zip(ys, ys[1:], strict=False))


def test_packed_run_uses_the_option_and_the_cytosolic_ph() -> None:
    default = ch.ChemistryConditions()
    k_ref, ea, t_refs, s = ch.pack_parameters(default)
    k = ch.rate_constants(k_ref, ea, t_refs, 37.0, s)
    assert k[ch.R_FE2_H2O2] == pytest.approx(fenton.rate_constant(310.15, 7.2, _coef()), rel=1e-12)
    assert s[ch.P_OH_YIELD] == pytest.approx(fenton.oh_yield(7.2, 0.6, 4.0))
    legacy = ch.ChemistryConditions(overrides=ch.chemistry_preset("fenton_ph3_legacy"))
    k_ref, ea, t_refs, s = ch.pack_parameters(legacy)
    k = ch.rate_constants(k_ref, ea, t_refs, 37.0, s)
    assert k[ch.R_FE2_H2O2] == pytest.approx(ch.arrhenius(63.0, 39e3, 298.15, 37.0), rel=1e-12)
    assert s[ch.P_OH_YIELD] == 1.0
