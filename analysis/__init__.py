"""fmreview.analysis."""
