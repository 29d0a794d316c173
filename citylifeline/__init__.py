"""CityLifeline: urban lifeline safety monitoring and early warning."""

__version__ = "0.1.0"
