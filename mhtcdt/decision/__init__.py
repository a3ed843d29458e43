"""Decision layer: scenarios, the virtual trial, the end-to-end pipeline, reports and the CLI.

The only layer that imports physics, cohorts and economics.
"""
