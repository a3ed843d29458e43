"""Decision layer: scenarios, the virtual trial, the end-to-end pipeline, reports and the CLI.

The only layer that imports physics, cohorts and economics. Sub-packages, in the order they depend on
each other (each imports only the ones above it, and the shared modules below):

* :mod:`.scenario`  what a user asks for: schema, loading, cross-layer checks, preset scenarios
* :mod:`.model`     outcome model, its calibration, the economic model, the PSA (+ their data files)
* :mod:`.trial`     trial design, survival statistics, replicate trials (power), patient selection
* :mod:`.run`       the pipeline, the arm chain, executors and chunking, streamed runs, the run store
* :mod:`.report`    run folder, summary, tables, figures, workbook, CHEERS HTML report
* :mod:`.cli`       the ``mhtcdt`` command

Shared: :mod:`.streams` (the seed keys of a run), :mod:`.progress` (progress callbacks),
:mod:`.extras` (optional dependencies).
"""
