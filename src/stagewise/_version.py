"""The package version. Bump it on every release; `CHANGELOG.md` says what changed."""

__version__ = "0.1.0"
