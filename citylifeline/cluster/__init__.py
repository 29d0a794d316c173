"""The distributed mode: the city split into partitions (by lifeline, district or both), one pipeline each, on Ray."""

from .plan import Plan, make_plan

__all__ = ["Plan", "make_plan"]
