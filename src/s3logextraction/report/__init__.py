"""`report`: the pictures people look at, made from the published summaries only (build.py makes
them; charts.py holds the Vega-Lite specs, page.py the HTML page, published.py reads the files)."""

from .build import ReportResult, report, report_available, report_into

__all__ = ["ReportResult", "report", "report_available", "report_into"]
