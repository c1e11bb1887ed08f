"""pgstate: a declarative GitOps reconciler for PostgreSQL's performance- and security-critical layer."""

__version__ = "0.1.0"
