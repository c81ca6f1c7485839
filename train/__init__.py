"""Conflict-news event extraction: training, evaluation and export."""
