"""The release number, in a module of its own so any layer can name it without importing the
package root (tests/unit/test_ci_packaging.py keeps it equal to pyproject.toml's)."""

__version__ = "0.1.0"
