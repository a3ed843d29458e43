"""The "Value of a trial" page on a small scenario: it runs the analysis in the worker, shows the verdict, the
optimal sample size (consistent with the ENBS curve it computed), the ENBS and EVSI figures and the MF1001
design; raising the trial's fixed cost lowers every ENBS by exactly that amount (the EVSI is unchanged: same
seeds, same draws)."""

from __future__ import annotations

import pytest

from tests.app.conftest import app_test, plain, small_scenario, texts


@pytest.fixture(scope="module")
def page():
    scenario = small_scenario(120)
    at = app_test(scenario, timeout_s=600)
    at.run()
    at.switch_page("page_trial_value.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_page_shows_the_optimal_size_and_the_enbs_curve(page):
    tv = page.session_state["trial_value"]
    assert tv.verdict() == plain(page.info[0].value)
    metrics = {m.label: m.value for m in page.metric}
    best = tv.best()
    assert metrics["optimal patients"] == ("no trial" if int(best["n_optimal"]) == 0 else str(int(best["n_optimal"])))
    curve = tv.curve
    top = curve.loc[curve["enbs"].idxmax()]
    assert int(best["n_optimal"]) == (int(top["n_patients"]) if top["enbs"] > 0 else 0)
    assert list(curve["n_patients"]) == [100, 200, 400, 800]
    assert metrics["MF1001 design: EVSI per patient"].endswith(f"{tv.mf1001['evsi'].iloc[0]:,.1f}")
    assert len(page.get("imgs")) + len(page.get("image")) >= 2  # ENBS and EVSI figures
    assert "Value of a trial" in texts(page)


def test_a_higher_fixed_cost_lowers_every_enbs_by_that_amount(page):
    old = page.session_state["trial_value"]
    page.number_input(key="tv_fixed").set_value(float(round(old.trial_cost.fixed)) + 1_000_000.0).run()
    assert not page.exception and not page.error
    new = page.session_state["trial_value"]
    assert new is not old and new.trial_cost.fixed == old.trial_cost.fixed + 1_000_000.0
    assert new.curve["evsi"].tolist() == old.curve["evsi"].tolist()
    delta = (old.curve["enbs"] - new.curve["enbs"]).to_numpy()
    assert delta == pytest.approx([new.trial_cost.fixed - old.trial_cost.fixed] * len(delta), rel=1e-9)
