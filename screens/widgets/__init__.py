"""Widgets shared by the screens: header, progress, curves, stats, log tail, run table."""
