"""Streamlit entry point: ``streamlit run streamlit_app.py`` (same app as ``mhtcdt app``).

The guard matters: Streamlit runs this file as ``__main__``, and the app's worker process (multiprocessing
forkserver) re-imports the main module as ``__mp_main__`` when it starts; without the guard the worker would
run the whole app in bare mode and try to start jobs itself.
"""

from mhtcdt.app.router import main

if __name__ == "__main__":
    main()
