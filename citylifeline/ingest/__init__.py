"""Ingestion: validation at the edge, the JSON payload, and CSV/Parquet files."""

from .files import read_file
from .payload import EXAMPLE, Parsed, parse_readings
from .validate import Rejection, Validator

__all__ = ["EXAMPLE", "Parsed", "Rejection", "Validator", "parse_readings", "read_file"]
