"""Alembic environment: migrates the connection handed over by `migrate.py`.

Run through `learning_analytics.infrastructure.db.migrate` (or `learning-analytics migrate`), which
opens an async connection and passes its synchronous face in `config.attributes["connection"]`.
Offline (`--sql`) mode renders SQL for the URL in the `sqlalchemy.url` option.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from learning_analytics.infrastructure.db.tables import metadata


def _run_online(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
        compare_server_default=False,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_offline(url: str) -> None:
    context.configure(
        url=url,
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    config = context.config
    if context.is_offline_mode():
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("offline migrations need the sqlalchemy.url option")
        _run_offline(url)
        return
    connection = config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "run migrations through learning_analytics.infrastructure.db.migrate "
            "(`learning-analytics migrate`), which provides the connection"
        )
    _run_online(connection)


_main()
