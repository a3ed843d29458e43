"""Physics layer: per-patient nanoparticle heating, Pennes bioheat, thermal dose and
thermotolerance, Fenton/CDT chemistry and ferroptosis, radiotherapy, and combined tumour kill.

Knows nothing of scenario files, the CLI or the app; imports no other mhtcdt layer.
"""
