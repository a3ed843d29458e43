"""Streamlit pages: thin views over the mhtcdt API (no model logic here)."""
