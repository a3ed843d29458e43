"""The Fenton reaction Fe(II) + H2O2 near neutral pH: its rate k(pH, T) and what it makes (.OH or ferryl).

Rate: the species model of Millero & Sotolongo (Geochim Cosmochim Acta 1989;53:1867), measured over pH 2-8.5,
5-45 C and ionic strength 0-0.7 M. Fe(II) reacts as Fe2+ (k0) and as FeOH+ (k1)::

    k = k0 a(Fe2+) + k1 a(FeOH+),   a(FeOH+) = x / (1 + x),  a(Fe2+) = 1 / (1 + x),  x = beta1 [OH-]
    log10 k0 = 8.37 - 1866/T
    log10 k1 = 17.26 - 2948/T - 1.70 I^0.5 + 1.20 I
    log10 k2 = 11.72 - 2.14 I^0.5 + 1.38 I       (pH 6-8: -d[Fe(II)]/dt = k2 [Fe(II)][H2O2][OH-], k2 = k1 beta1)

so beta1 = k2 / k1 (k2 is temperature independent in their fit; beta1 carries the temperature dependence that
cancels k1's). [OH-] = Kw(T) / (a_H+ gamma_OH-) with pH = -log10 a_H+, Kw(T) from Harned & Owen
(log10 Kw = -4470.99/T + 6.0875 - 0.01706 T) and gamma_OH- from the Davies equation at ionic strength I.
At a fixed pH the rate therefore rises with temperature like Kw (apparent Ea ~ 54 kJ/mol at 37 C). Numbers at
37 C, I = 0.15 M: k0 = 226, k1 = 1.9e7 1/(M s); pH 6.5: 1.3e4, pH 7.2: 6.3e4, pH 7.4: 1.0e5 1/(M s)
(pH 3: 230, against the legacy 63 at 25 C / 116 at 37 C of Buxton-type compilations).

Products (.OH versus ferryl Fe(IV)=O): at pH <= ~3 the reaction gives .OH; near neutral pH uncomplexed Fe(II)
gives a more selective oxidant, ferryl (Hug & Leupin 2003; Katsoyiannis et al. 2008; Bataineh, Pestovsky &
Bakac 2012), while Fe(II) complexed by EDTA/DTPA (and probably citrate) still gives .OH (Miller et al. 2016).
Kremer (2003) explains the switch by an acid-base equilibrium of the intermediate, so the .OH share of
uncomplexed iron is a one-proton titration curve. The .OH yield of the cytosolic labile pool::

    Y(pH) = f_lig + (1 - f_lig) / (1 + 10^(pH - pKa_switch))

f_lig: share of the labile Fe(II) whose complexes give .OH (ligated: citrate, nucleotides, GSH); the rest
gives ferryl. Parameters and sources: ``data/chemistry.toml`` [fenton], [water], [fenton_products].

Units: temperature in K, rate constants in 1/(M s), concentrations in M. The functions are numba-compiled
(called inside the fast chemistry path) and take a coefficient vector packed by :func:`pack_coefficients`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# layout of the coefficient vector
C_K0_A, C_K0_B, C_K1_A, C_K1_B, C_LOG_K2, C_LOG_GAMMA_OH, C_PKW_A, C_PKW_B, C_PKW_C = range(9)
N_COEF = 9


def davies_log10_gamma(ionic_strength_M: float, davies_a: float, charge: int = 1) -> float:
    """log10 of an ion's activity coefficient (Davies): ``-A z^2 (sqrt(I)/(1 + sqrt(I)) - 0.3 I)``."""
    r = math.sqrt(ionic_strength_M)
    return -davies_a * charge * charge * (r / (1.0 + r) - 0.3 * ionic_strength_M)


def pack_coefficients(fenton: dict, water: dict, ionic_strength_M: float) -> np.ndarray:
    """The coefficient vector of :func:`rate_constant` from the data tables ([fenton], [water]) at ionic
    strength ``ionic_strength_M`` [M] (the ionic-strength terms of Millero & Sotolongo folded in)."""
    r = math.sqrt(ionic_strength_M)
    i = ionic_strength_M
    c = np.zeros(N_COEF)
    c[C_K0_A] = fenton["log10_k0_A"]
    c[C_K0_B] = fenton["log10_k0_B_K"]
    c[C_K1_A] = fenton["log10_k1_A"] + fenton["log10_k1_sqrtI"] * r + fenton["log10_k1_I"] * i
    c[C_K1_B] = fenton["log10_k1_B_K"]
    c[C_LOG_K2] = fenton["log10_k2_A"] + fenton["log10_k2_sqrtI"] * r + fenton["log10_k2_I"] * i
    c[C_LOG_GAMMA_OH] = davies_log10_gamma(ionic_strength_M, water["davies_A"])
    c[C_PKW_A] = water["log10_Kw_A_K"]
    c[C_PKW_B] = water["log10_Kw_B"]
    c[C_PKW_C] = water["log10_Kw_C_per_K"]
    return c


@njit(cache=True)
def pkw(temperature_K: float, coef: np.ndarray) -> float:
    """-log10 Kw at ``temperature_K`` (Harned & Owen: log10 Kw = -A/T + B - C T)."""
    return coef[C_PKW_A] / temperature_K - coef[C_PKW_B] + coef[C_PKW_C] * temperature_K


@njit(cache=True)
def hydroxide_M(temperature_K: float, ph: float, coef: np.ndarray) -> float:
    """[OH-] [M] at activity pH ``ph``: ``Kw / (a_H+ gamma_OH-)``."""
    return 10.0 ** (ph - pkw(temperature_K, coef) - coef[C_LOG_GAMMA_OH])


@njit(cache=True)
def rate_constant(temperature_K: float, ph: float, coef: np.ndarray) -> float:
    """k(Fe(II) + H2O2) [1/(M s)] of the Millero-Sotolongo species model (module docstring)."""
    k0 = 10.0 ** (coef[C_K0_A] - coef[C_K0_B] / temperature_K)
    k1 = 10.0 ** (coef[C_K1_A] - coef[C_K1_B] / temperature_K)
    x = 10.0 ** coef[C_LOG_K2] * hydroxide_M(temperature_K, ph, coef) / k1  # [FeOH+]/[Fe2+] = beta1 [OH-]
    return (k0 + k1 * x) / (1.0 + x)


@njit(cache=True)
def oh_yield(ph: float, ligated_fraction: float, switch_pka: float) -> float:
    """Share of Fe(II) + H2O2 events that give .OH (the rest give ferryl), module docstring."""
    return ligated_fraction + (1.0 - ligated_fraction) / (1.0 + 10.0 ** (ph - switch_pka))
