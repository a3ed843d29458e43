"""Validation of the model chain against published clinical measurements (``python -m validation.thermometry``)."""
