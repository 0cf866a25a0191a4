"""Provisio."""
