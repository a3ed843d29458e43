"""Cohorts layer: virtual patients per indication (Gaussian copula over documented
marginals), safe selection-criteria expressions and the CONSORT flow.

Imports no other mhtcdt layer.
"""
