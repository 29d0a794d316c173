"""Detectors: threshold, rate-of-change and AI anomaly warnings, and sensor-health faults."""

from ..city.sensors import SensorRegistry
from ..settings import Config
from .anomaly import AnomalyDetector
from .base import Detector
from .health import ImpossibleValueDetector, NoDataDetector, SpikeDetector, StuckDetector, impossible_mask
from .rate import RateDetector
from .threshold import ThresholdDetector

DETECTORS: tuple[type[Detector], ...] = (ImpossibleValueDetector, NoDataDetector, StuckDetector, SpikeDetector,
                                         ThresholdDetector, RateDetector, AnomalyDetector)
"""Every detector the pipeline runs, in order; the conformance suite runs over all of them."""


def default_detectors(registry: SensorRegistry, config: Config) -> list[Detector]:
    """One instance of every detector in ``DETECTORS``."""
    return [cls(registry, config) for cls in DETECTORS]


__all__ = ["DETECTORS", "AnomalyDetector", "Detector", "ImpossibleValueDetector", "NoDataDetector", "RateDetector",
           "SpikeDetector", "StuckDetector", "ThresholdDetector", "default_detectors", "impossible_mask"]
