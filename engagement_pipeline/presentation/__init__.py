"""Presentation: the report's charts and HTML, the dashboard and what it reads."""
