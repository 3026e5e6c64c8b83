"""Alembic environment: the schema is Base.metadata with every capability's models loaded."""

from __future__ import annotations

from alembic import context

from bot.capabilities import load_models
from bot.db import Base, make_engine

load_models()
target_metadata = Base.metadata


def run_migrations() -> None:
    url = context.config.attributes.get("database_url") or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: run migrations through bot.migrate (madoguchi db upgrade)")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


run_migrations()
