"""Running a scenario: the pipeline, where its chunks execute, streamed aggregates, the run store.

* :mod:`.pipeline`       scenario -> cohort -> trial -> survival -> economics -> verdict
* :mod:`.executors`      serial, local-process and Dask executors (the backends chunks run on)
* :mod:`.chunking`       index chunks in, results out in index order (retries, bounded memory)
* :mod:`.code_identity`  workers run the client's code and data (module and data-file hashes); package fingerprint
* :mod:`.chunked`        cohort, physics and replicate trials computed in chunks
* :mod:`.event_tables`   survival counts and per-arm moments merged chunk by chunk
* :mod:`.stream_psa`     a large PSA reduced to running summaries
* :mod:`.stream_trial`   a large trial reduced to event tables
* :mod:`.store`          every run recorded in DuckDB (``mhtcdt runs``)
"""
