"""The package version, in a leaf module: code inside the core reads it without importing the package face."""

__version__ = "0.1.0"
