"""The virtual trial and its statistics.

* :mod:`.design`       trial design, stratified block randomisation, accrual, dropout and censoring
* :mod:`.survival`     Kaplan-Meier, Cox, log-rank and RMST of a trial (lifelines)
* :mod:`.parametric`   parametric survival fits and extrapolation
* :mod:`.fastlogrank`  vectorised log-rank over many replicate trials
* :mod:`.power`        replicate trials: power, type-I error, sample size
* :mod:`.selection`    eligibility criteria compared by predicted benefit; benefit score
"""
