"""Slow, obvious reference twins (numpy/scipy) of the fast physics kernels, for tests and benchmarks.

* ``bioheat_radial_ivp``: the radial Pennes problem by the method of lines +
  ``scipy.integrate.solve_ivp`` (perfusion evaluated at the current temperature, no lagging) and its
  steady state by ``scipy.optimize.root``.
* ``analytic``: closed forms (heated sphere in a perfused or unperfused medium, uniform heating transient,
  constant-temperature CEM43 and Arrhenius).
"""
