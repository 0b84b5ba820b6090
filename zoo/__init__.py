"""fmreview.zoo."""
