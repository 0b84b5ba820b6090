"""fmreview.catalog: the curated data and everything that reads, checks and queries it."""

from .errors import CatalogError, Problem, QueryError
from .query import Catalog, UnknownIdError, check_ids, load
from .store import check, default_root, read_catalog, validate

__all__ = ["Catalog", "CatalogError", "Problem", "QueryError", "UnknownIdError", "check", "check_ids", "default_root",
           "load", "read_catalog", "validate"]
