# The single source of the package version. `cargo xtask release vX.Y.Z` rewrites the
# assignment below; keep it a plain string literal.
__version__ = "0.1.0"
