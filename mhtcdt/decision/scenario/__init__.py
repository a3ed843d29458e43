"""Scenarios: what a user asks for, as a validated TOML file.

* :mod:`.schema`   the pydantic models (cohort, arms, trial, economics) with units and bounds
* :mod:`.checks`   cross-layer checks (indication, criteria, protocols, design) and the mapping of
  scenario sections onto layer objects (``protocol_for_arm``, ``trial_design``)
* ``presets/``     scenario files shipped with the package (``default.toml``)
"""
