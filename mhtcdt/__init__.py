"""mhtcdt: virtual clinical trials and cost-per-QALY analyses for magnetic hyperthermia
therapy combined with chemodynamic therapy (MHT-CDT).

Layers (dependencies flow one way, see docs/architecture.md):

* :mod:`mhtcdt.physics`   per-patient heating, bioheat, thermal dose, chemistry, RT and kill
* :mod:`mhtcdt.cohorts`   virtual patients, safe selection criteria, CONSORT flow
* :mod:`mhtcdt.economics` Markov / partitioned-survival models, incremental analysis, PSA, VOI
* :mod:`mhtcdt.decision`  scenarios, the virtual trial, the pipeline, CLI and reports;
  the only layer that imports the other three.
"""

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    """``__version__`` on first use: ``importlib.metadata`` costs about 20 ms to import, which every
    ``import mhtcdt.<layer>`` would pay (PEP 562 module attribute)."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("mhtcdt")
    except PackageNotFoundError:  # running from a source tree that is not installed
        value = "0.1.0"
    globals()["__version__"] = value
    return value
