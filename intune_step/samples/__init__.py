"""Builders of small but real artifacts, for tests, the demo command and benchmarks.

They use only the standard library and ``cryptography`` (a runtime dependency already).
"""

from intune_step.samples.apk import build_apk
from intune_step.samples.axml_writer import Ref
from intune_step.samples.ipa import build_ipa, build_mobileprovision

__all__ = ["Ref", "build_apk", "build_ipa", "build_mobileprovision"]
