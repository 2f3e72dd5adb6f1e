"""Pickers: a filter box over a list (models, themes), with a fuzzy matcher."""
