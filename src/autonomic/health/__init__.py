"""The eight checks of the SEED.md health dashboard, their report, and auto-fix (detect -> fix -> verify)."""
