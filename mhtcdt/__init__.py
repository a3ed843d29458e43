"""mhtcdt: virtual clinical trials and cost-per-QALY analyses for magnetic hyperthermia
therapy combined with chemodynamic therapy (MHT-CDT).

Layers (dependencies flow one way, see docs/architecture.md):

* :mod:`mhtcdt.physics`   per-patient heating, bioheat, thermal dose, chemistry, RT and kill
* :mod:`mhtcdt.cohorts`   virtual patients, safe selection criteria, CONSORT flow
* :mod:`mhtcdt.economics` Markov / partitioned-survival models, incremental analysis, PSA, VOI
* :mod:`mhtcdt.decision`  scenarios, the virtual trial, the pipeline, CLI and reports;
  the only layer that imports the other three.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mhtcdt")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

__all__ = ["__version__"]
