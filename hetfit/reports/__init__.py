"""Figures (matplotlib, headless) and HTML/Markdown reports with a JSON of every number."""
