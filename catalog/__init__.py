"""fmreview.catalog."""
