"""Evaluation sets, metrics and runs. Metrics compare against hand-written gold data only."""
