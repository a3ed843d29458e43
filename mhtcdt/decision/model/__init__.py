"""The models of a run: outcome model (tumour kill -> PFS/OS), its calibration to published trials,
the economic model (trial curves -> costs, QALYs, ICER) and its probabilistic sensitivity analysis.

* :mod:`.outcome`         kill + covariates -> latent PFS/OS per patient
* :mod:`.calibration`     fits the outcome model's free parameters (``mhtcdt calibrate``)
* :mod:`.economic_model`  survival curves -> partitioned-survival costs, QALYs, incremental analysis
* :mod:`.psa`             probabilistic and deterministic sensitivity analysis, value of information
* ``data/``               parameters (with sources) and the generated calibration file
"""
