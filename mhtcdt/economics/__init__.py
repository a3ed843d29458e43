"""Economics layer: Markov and partitioned-survival cohort models, costing, incremental
analysis with dominance, net benefit, DSA, PSA and value of information.

Imports no other mhtcdt layer.
"""
