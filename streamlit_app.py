"""Streamlit entry point: ``streamlit run streamlit_app.py`` (same app as ``mhtcdt app``)."""

from mhtcdt.app.router import main

main()
