"""Dashboards: the Tableau extract, the built-in HTML page and the findings report."""
