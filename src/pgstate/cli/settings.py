"""Each option's value: the command line's, else pgstate.toml's, else the built-in default."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..backup.location import default_backup_root
from ..config import Config, load_config, url_from_environment
from ..db.patience import DEFAULT_LOCK_TIMEOUT, DEFAULT_RETRIES
from ..errors import PgstateError
from ..fleet.targets import Target, chosen_target

WITHOUT_CONFIG = frozenset({"show", "embedded"})


def settle(args: argparse.Namespace, cwd: Path) -> Config:
    """Fill every option left unset (None) from the configuration file, then from the defaults; returns the
    configuration for what has no option (url_env, schema, lint levels). The verbs that read neither desired
    files nor a database (``show``, ``embedded``: ``make clean`` runs one) do not read it, so a broken file
    cannot stop them."""
    config = Config() if args.verb in WITHOUT_CONFIG else load_config(getattr(args, "config", None), cwd)
    args.target_settings = _target(args, config)
    defaults = {
        "desired": (config.desired, Path("desired")),
        "lock_timeout": (config.lock_timeout, DEFAULT_LOCK_TIMEOUT),
        "retries": (config.retries, DEFAULT_RETRIES),
        "backup_dir": (config.backup_dir, default_backup_root()),
    }
    for name, (configured, default) in defaults.items():
        if getattr(args, name, "absent") is None:
            setattr(args, name, configured if configured is not None else default)
    args.settings = config
    return config


def _target(args: argparse.Namespace, config: Config) -> Target | None:
    """The target of --target or --target-index; its desired directory (its own, or an overlay merged over the
    configured one) fills --desired unless that was given."""
    target = chosen_target(
        config, getattr(args, "target", None), getattr(args, "target_index", None), getattr(args, "wave", None)
    )
    args.overlay = None
    if target is None:
        return None
    if getattr(args, "database_url", None):
        raise PgstateError(
            f"--database-url and --target {target.name} both say which database",
            hint=f"give one: the target's URL is read from ${target.url_env}",
        )
    if getattr(args, "desired", "absent") is None and target.desired is not None:
        args.desired = target.desired
    args.overlay = target.overlay
    return target


def configured_url(args: argparse.Namespace) -> str | None:
    """--database-url, else the --target's variable, else $PGSTATE_DATABASE_URL, else the variable pgstate.toml
    names (else $DATABASE_URL)."""
    if args.database_url:
        return str(args.database_url)
    if getattr(args, "target_settings", None) is not None:
        return str(args.target_settings.url(args.settings))
    url, _ = url_from_environment(args.settings)
    return url


def default_schema(args: argparse.Namespace) -> str | None:
    """The schema of desired documents that name none: pgstate.toml's ``schema``, else the URL's (Prisma's
    ``?schema=``), else None (public). A URL that cannot be read yet says nothing here: connecting reports it."""
    if args.settings.schema is not None:
        return str(args.settings.schema)
    if not hasattr(args, "database_url"):
        return None
    from ..db.urls import connection_target

    try:
        url = configured_url(args)
    except PgstateError:
        return None
    return connection_target(url).default_schema if url else None
