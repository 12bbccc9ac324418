"""Readers that turn annotation files into lists of PersonRecord."""
