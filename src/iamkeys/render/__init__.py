"""Renderers: domain objects to CSV, terminal tables and HTML. JSON lives in serialize.py."""
