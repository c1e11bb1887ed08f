"""pgstate: a declarative GitOps reconciler for PostgreSQL's performance- and security-critical layer."""

# The one place the version is written: the package metadata (pyproject.toml reads it), `pgstate --version`, the
# plan JSON and every run's record take it from here. A release is this line and the tag v<version>.
__version__ = "0.2.0"
