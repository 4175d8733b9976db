"""enphase-monitor: Enphase IQ Gateway to NUT bridge daemon."""

__version__ = "0.1.0"
