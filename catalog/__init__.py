"""fmreview.catalog: the curated data and everything that reads, checks and queries it."""

from .errors import CatalogError, Problem
from .query import Catalog, load
from .store import default_root, read_catalog, validate

__all__ = ["Catalog", "CatalogError", "Problem", "default_root", "load", "read_catalog", "validate"]
