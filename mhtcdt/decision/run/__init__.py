"""Running a scenario: the pipeline, where its chunks execute, streamed aggregates, the run store.

* :mod:`.pipeline`      scenario -> cohort -> trial -> survival -> economics -> verdict
* :mod:`.executors`     serial, local-process and Dask executors (chunks, retries, code identity)
* :mod:`.stream_trial`  large trials and PSAs reduced chunk by chunk
* :mod:`.store`         every run recorded in DuckDB (``mhtcdt runs``)
* :mod:`.progress`      progress callbacks (terminal bar, app)
"""
