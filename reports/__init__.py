"""fmreview.reports."""
