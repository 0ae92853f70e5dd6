"""Test and benchmark support that ships with the package (the synthetic log generator)."""

from .generate import GroundTruth, generate_benchmark

__all__ = ["GroundTruth", "generate_benchmark"]
