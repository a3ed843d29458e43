"""The ``mhtcdt`` command line: :mod:`.main` (demo, run, validate, app), :mod:`.trial` (calibrate,
power) and :mod:`.store` (runs list/show/compare/export)."""
