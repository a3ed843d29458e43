"""Economics layer: Markov and partitioned-survival cohort models, costing, incremental analysis
with dominance, net benefit, DSA, PSA and value of information.

Imports no other mhtcdt layer (only the leaf modules :mod:`mhtcdt.errors`, :mod:`mhtcdt.seeding`,
:mod:`mhtcdt.datafiles`). In the style of hesim, a cohort model is built from three objects kept apart,
each validated once: its **input data** (survival curves, or states, transitions and a start), its
**parameters** (:class:`StateValues`: costs and utilities with explicit units) and its
**conventions** (:class:`Conventions`: counting, discounting, cycle length, currency).

The unit rule (:mod:`.values`): state costs are rates per ``costs_per`` ("cycle", "days", "weeks",
"months", "years"; no default), converted once by each engine; one-off, end-of-life and transition
costs are amounts per event; utilities are QALY weights per year.

Public API (names are stable; the decision layer calls them)
-------------------------------------------------------------
Conventions (:mod:`.conventions`)
    ``Conventions(discount_costs=0.035, discount_effects=0.035, discount_method="discrete",
    counting="life_table", cycle_zero="method", cycle_length=1, cycle_unit="years", currency=None)``,
    ``Conventions.for_jurisdiction(key, **overrides)``; ``counting_weights(time, method, cycle_zero)``
    (methods incl. ``"cycle_average"``, heemod's life-table counting), ``cycle_average_trace``,
    ``discount_factors(time_years, rate, method)``, ``to_years``, ``jurisdiction(key)``, ``jurisdictions()``,
    ``cheers_items()``.
Cost transfer between jurisdictions (:mod:`.transfer`, data in ``data/ppp.toml``)
    ``ppp(jurisdiction, year) -> PPPEntry``, ``ppp_transfer(from_key, to_key, year) -> PPPTransfer``
    (``.factor`` = PPP_to / PPP_from, ``.apply(cost)``, ``.note(label)``), ``exchange_rate(quote, base, year)``.
State values (:mod:`.values`)
    ``StateValues(costs, utilities, costs_per, one_off_cost=0, end_of_life_cost=0, transition_costs=None,
    allow_negative_utilities=False)``; ``CostCategory(values, counting, cycle_zero)`` (Markov only).
Partitioned survival (:mod:`.psm`)
    ``run_partitioned_survival(SurvivalCurves(strategies, time_months, curves, states=("pf", "progressed")),
    values, conventions) -> DrawResults``: the one entry point, over draws x strategies x time, for K
    nested curves (K = 2: ``(pfs, os)``, each (S, T) or (D, S, T), or a function ``curves(start, stop)``
    of a block of draws with ``n_draws=D``, evaluated block by block, or ``survival.NestedWeibull`` Weibull
    coefficients, valid in closed form and evaluated by the engine); one parameter set is its first
    draw (``.draw(0)`` -> per-strategy DataFrame); ``partitioned_occupancy(curves)``.
Markov cohort models (:mod:`.markov`, trace kernel :mod:`.markov_trace`)
    ``run_markov(states, strategies, start, conventions, *, n_cycles=None, dead_states=("dead",),
    until_alive_below=None, keep_traces=None, mean_traces=True, out=None) -> MarkovResult``
    (``until_alive_below``: an open horizon, ``UntilAliveBelow(share, max_cycles=10000)``)
    (``out``: destination arrays by column, written in place; ``.results``
    DataFrame, ``.draws`` DrawResults, ``.traces`` when kept, ``.mean_traces``, ``.trace_frame``);
    ``MarkovStrategy(name, transitions, values, per_cycle, draws)``; ``entry_cost_matrix(states,
    {state: cost})``; ``expand_tunnel_states``, ``rate_to_probability``, ``probability_to_rate``,
    ``rescale_probability``.
Life tables (:mod:`.lifetables`, data in ``data/life_tables.toml``)
    ``life_table(key) -> LifeTable`` (``.annual_probability(age, sex)``, ``.cycle_probability(age, sex,
    cycle_years)``), ``life_tables()``.
Parametric survival curves (:mod:`.survival`, vectorised over draws: params (D, S) -> (D, S, T))
    ``exponential``, ``weibull``, ``loglogistic``, ``lognormal``, ``gompertz``,
    ``weibull_from_coefficients``, ``NestedWeibull(log_shape, log_scale)`` (K nested curves by their Weibull
    coefficients, S_k = S_{k+1} exp(-H_k), e.g. PFS = TTP x OS), ``proportional_hazards(curve, hazard_ratio |
    log_hazard_ratio=)``,
    ``interval_event_probabilities(curve)`` (import ``mhtcdt.economics.survival``).
PSA distributions (:mod:`.psa`)
    ``Gamma(mean, sd)``, ``Beta(mean, sd)`` / ``Beta.from_counts``, ``LogNormal(meanlog, sdlog)`` /
    ``.from_ci`` / ``.from_mean_sd``, ``Normal``, ``Uniform``, ``Fixed``, ``Dirichlet(alpha)``,
    ``MultivariateNormal(mean, cov)``, ``EmpiricalDraws(table, resample)``;
    ``sample_psa(distributions, n_draws, seed, start=0) -> dict[name, array]`` (chunk-independent,
    streams keyed by :mod:`mhtcdt.seeding`).
PSA in blocks (:mod:`.blocks`)
    ``run_in_blocks(model, n_draws, block_draws=65536) -> DrawResults``: ``model(start, stop)`` samples,
    builds and runs draws ``start .. stop - 1``; memory beyond the results is that of one block; a model
    ``model(start, stop, out=None)`` passing ``out`` to ``run_markov`` has its results written in place.
Results (:mod:`.results`)
    ``DrawResults`` (arrays (D, S); ``.summary()`` -> per-strategy DataFrame of means, contract
    section 5; ``.draw(d)``; ``.uncertainty(level=0.95)`` -> mean, sd, interval per quantity).
Incremental analysis (:mod:`.incremental`)
    ``incremental_analysis(results_df, cost="cost", effect="qalys") -> DataFrame`` with
    ``strategy, cost, qalys, inc_cost, inc_qalys, icer, status`` (strong/extended dominance);
    ``efficient_frontier(cost, effect)``.
Net benefit and acceptability (:mod:`.nmb`)
    ``net_monetary_benefit(cost, effect, wtp)``, ``ceac(cost, effect, wtp, strategies) -> DataFrame``,
    ``ceaf``, ``ce_plane``.
Value of information (:mod:`.voi`)
    ``evpi(cost, effect, wtp)``, ``evpi_curve(...) -> DataFrame``, ``population_multiplier``,
    ``evppi(cost, effect, parameters, wtp, *, n_knots=8, interaction=True, n_se_samples=100,
    seed=...) -> DataFrame`` (Strong-Oakley penalised-spline regression, GCV, with SE; a pair of
    parameters gets a tensor-product spline, larger groups an additive one).
Sensitivity and thresholds (:mod:`.dsa`)
    ``one_way_dsa(model, base, ranges, vectorised=True) -> DataFrame`` (tornado data),
    ``two_way_dsa(model, base, (name_x, values), (name_y, values)) -> DataFrame``,
    ``threshold_value(model, base, parameter, bounds, target=0)`` (e.g. value-based price),
    ``value_based_price(inc_cost, inc_qalys, wtp, current_price, units_per_patient)``.
Budget impact (:mod:`.budget`)
    ``budget_impact(eligible_per_year, uptake_per_year, cost_by_year_new, cost_by_year_current,
    years=5) -> DataFrame``; ``annual_costs_from_curves(time_months, pfs, os, ...)``.
MHT micro-costing (:mod:`.costing`, data in ``data/costs.toml``)
    ``default_mht_inputs(tumour_volume_cm3=, dose_mg_Fe_per_cm3=, n_sessions=, session_minutes=,
    **overrides) -> MHTCourseInputs``; ``mht_course_cost(inputs, perspective="payer"|"societal")
    -> DataFrame``; ``mht_course_total``, ``course_components`` (arrays), ``breakeven_annual_volume``,
    ``threshold_particle_price``, ``equivalent_annual_cost``, ``micro_costing_ranges``, ``cost_data``.
Imports: ``import mhtcdt.economics`` loads numpy only; pandas (DataFrames), scipy (``brentq``, the
lognormal curve) and matplotlib (:mod:`.plots`) are imported by the functions that use them.
Figures (:mod:`.plots`, matplotlib ``Figure`` objects, no pyplot state)
    ``ce_plane_figure``, ``ceac_figure``, ``tornado_figure``, ``evpi_figure``,
    ``occupancy_figure``, ``trace_figure`` (import ``mhtcdt.economics.plots`` explicitly).
"""

from mhtcdt.economics.blocks import run_in_blocks
from mhtcdt.economics.budget import annual_costs_from_curves, budget_impact
from mhtcdt.economics.conventions import (
    COUNTING_METHODS,
    DISCOUNT_METHODS,
    Conventions,
    Jurisdiction,
    cheers_items,
    counting_weights,
    cycle_average_trace,
    discount_factors,
    jurisdiction,
    jurisdictions,
    to_years,
)
from mhtcdt.economics.costing import (
    MHTCourseInputs,
    breakeven_annual_volume,
    cost_data,
    course_components,
    default_mht_inputs,
    equivalent_annual_cost,
    mht_course_cost,
    mht_course_total,
    micro_costing_ranges,
    threshold_particle_price,
)
from mhtcdt.economics.dsa import one_way_dsa, threshold_value, two_way_dsa, value_based_price
from mhtcdt.economics.incremental import efficient_frontier, incremental_analysis
from mhtcdt.economics.lifetables import LifeTable, life_table, life_tables
from mhtcdt.economics.markov import (
    MarkovResult,
    MarkovStrategy,
    UntilAliveBelow,
    entry_cost_matrix,
    expand_tunnel_states,
    probability_to_rate,
    rate_to_probability,
    rescale_probability,
    run_markov,
)
from mhtcdt.economics.nmb import ce_plane, ceac, ceaf, net_monetary_benefit
from mhtcdt.economics.psa import (
    Beta,
    Dirichlet,
    Distribution,
    EmpiricalDraws,
    Fixed,
    Gamma,
    LogNormal,
    MultivariateNormal,
    Normal,
    Uniform,
    dirichlet_matrix,
    sample_psa,
)
from mhtcdt.economics.psm import CurveCrossingWarning, SurvivalCurves, partitioned_occupancy, run_partitioned_survival
from mhtcdt.economics.results import RESULT_COLUMNS, DrawResults
from mhtcdt.economics.transfer import PPPEntry, PPPTransfer, exchange_rate, ppp, ppp_transfer
from mhtcdt.economics.values import CostCategory, StateValues
from mhtcdt.economics.voi import evpi, evpi_curve, evppi, population_multiplier

__all__ = [
    "Conventions",
    "CostCategory",
    "LifeTable",
    "life_table",
    "life_tables",
    "StateValues",
    "SurvivalCurves",
    "MHTCourseInputs",
    "annual_costs_from_curves",
    "breakeven_annual_volume",
    "budget_impact",
    "cost_data",
    "course_components",
    "default_mht_inputs",
    "equivalent_annual_cost",
    "mht_course_cost",
    "mht_course_total",
    "micro_costing_ranges",
    "one_way_dsa",
    "threshold_particle_price",
    "threshold_value",
    "two_way_dsa",
    "value_based_price",
    "Beta",
    "Dirichlet",
    "Distribution",
    "EmpiricalDraws",
    "Fixed",
    "Gamma",
    "LogNormal",
    "MarkovResult",
    "MarkovStrategy",
    "UntilAliveBelow",
    "MultivariateNormal",
    "Normal",
    "Uniform",
    "dirichlet_matrix",
    "entry_cost_matrix",
    "expand_tunnel_states",
    "probability_to_rate",
    "rate_to_probability",
    "rescale_probability",
    "run_markov",
    "sample_psa",
    "COUNTING_METHODS",
    "DISCOUNT_METHODS",
    "RESULT_COLUMNS",
    "CurveCrossingWarning",
    "DrawResults",
    "Jurisdiction",
    "ce_plane",
    "ceac",
    "ceaf",
    "cheers_items",
    "counting_weights",
    "cycle_average_trace",
    "discount_factors",
    "efficient_frontier",
    "evpi",
    "evpi_curve",
    "evppi",
    "incremental_analysis",
    "jurisdiction",
    "jurisdictions",
    "PPPEntry",
    "PPPTransfer",
    "exchange_rate",
    "ppp",
    "ppp_transfer",
    "net_monetary_benefit",
    "partitioned_occupancy",
    "population_multiplier",
    "run_in_blocks",
    "run_partitioned_survival",
    "to_years",
]
