"""frontline: an agent-based simulation of an attritional front, built on Mesa."""

__version__ = "0.1.0"
