"""intune-step: publish a build artifact and its metadata to Microsoft Intune."""

__version__ = "0.1.0"
