"""Hostile scenario files: markup and script in every user-written string the app shows.

Each payload, if it were rendered as HTML or Markdown, would run script (setting ``window.__xss``
or ``parent.__xss``), load an image, open a form or a ``javascript:`` link; shown as text it is
harmless. Used by the browser test (:mod:`tests.app.test_browser_hostile`) and the AppTest cases.
"""

from __future__ import annotations

import tomllib

import tomli_w

from mhtcdt.decision.scenario.loading import scenario_text

NAME = '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>'
DESCRIPTION = (
    '<img src=x onerror="window.__xss=2"> <form action="https://example.invalid"><input name=q></form> '
    '<a href="javascript:window.__xss=3">click</a> [markdown link](javascript:window.__xss=4) '
    "![markdown image](https://example.invalid/x.png) **bold** :red[red] $x^2$ <script>window.__xss=5</script>"
)
ARM_REFERENCE = '<img src=x onerror="window.__xss=6">RT'
ARM_MHT = '<a href="javascript:window.__xss=7">MHT</a> $\\frac{x$'
FILE_NAME = "<img src=x onerror=window.__xss=8>.toml"  # no quotes: uploads URL-encode them
CRITERION = "<script>window.__xss=9</script> kps >= 60"
#: every payload, to check that none reaches the page as markup
PAYLOADS = (NAME, DESCRIPTION, ARM_REFERENCE, ARM_MHT, FILE_NAME, CRITERION)


def hostile_scenario(*, n_screened: int = 120, psa_draws: int = 40, bad_criterion: bool = False) -> str:
    """The default scenario (small) with hostile strings in the name, description and arm names;
    ``bad_criterion`` adds a criterion with a script tag (the parser refuses it: an error names it)."""
    data = tomllib.loads(scenario_text())
    data["name"] = NAME
    data["description"] = DESCRIPTION
    data["cohort"]["n_screened"] = n_screened
    if bad_criterion:
        data["cohort"]["criteria"] = [*data["cohort"]["criteria"], CRITERION]
    data["economics"]["psa_draws"] = psa_draws
    ref, mht = data["arms"][0]["name"], data["arms"][1]["name"]
    data["arms"][0]["name"], data["arms"][1]["name"] = ARM_REFERENCE, ARM_MHT
    data["trial"]["reference_arm"] = ARM_REFERENCE
    weights = data["trial"]["allocation"]
    data["trial"]["allocation"] = {ARM_REFERENCE: weights[ref], ARM_MHT: weights[mht]}
    return tomli_w.dumps(data)
