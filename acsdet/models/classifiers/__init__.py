"""Classifiers: a network + a head, mmengine ``BaseModel`` (loss / predict / tensor modes)."""
from .volume_classifier import VolumeClassifier

__all__ = ['VolumeClassifier']
