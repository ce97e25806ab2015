"""autonomic: reboot-resilient background services for a workstation."""

__version__ = "0.1.0"
