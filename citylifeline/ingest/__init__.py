"""Ingestion: validation at the edge, the JSON payload, CSV/Parquet files and Arrow IPC streams."""

from .files import ARROW_STREAM, parse_arrow_stream, read_file
from .payload import EXAMPLE, Parsed, parse_readings
from .validate import Rejection, Validator

__all__ = ["ARROW_STREAM", "EXAMPLE", "Parsed", "Rejection", "Validator", "parse_arrow_stream", "parse_readings",
           "read_file"]
