"""The virtual trial and its statistics.

* :mod:`.design`       trial design, stratified block randomisation, accrual, dropout and censoring
* :mod:`.survival`     Kaplan-Meier, Cox, log-rank and RMST of a trial (lifelines)
* :mod:`.parametric`   parametric survival fits and extrapolation
* :mod:`.fastlogrank`  vectorised log-rank over many replicate trials
* :mod:`.power`        replicate trials (:class:`.power.ReplicateTrial`): power, curve, sample size
* :mod:`.power_analysis`  a scenario's power, type-I error, curve and sample size in one call
* :mod:`.selection`    eligibility criteria compared by predicted benefit; benefit score
"""
