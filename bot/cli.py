"""The `madoguchi` command."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click

from bot.command_support import settings_for_command
from bot.settings import ConfigError, Settings, get_settings


def _logging(level: str) -> None:
    from bot import access_log

    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    access_log.install()  # the QR codes' secret URLs stay out of the access log


@click.group()
def main() -> None:
    """madoguchi: the city's LINE front door."""
    from bot.runtime import configure_process

    # Every command runs with the environment's settings (catalog, NLU); a command that needs a
    # setting that is wrong says so itself, in one line.
    with contextlib.suppress(ConfigError):
        configure_process(get_settings())


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--var-dir", default="var", show_default=True, type=click.Path(file_okay=False, path_type=Path))
def demo(host: str, port: int, var_dir: Path) -> None:
    """Everything on this machine: SQLite, demo data, admin UI and the LINE sandbox chat page."""
    import uvicorn
    from fastapi import FastAPI

    from bot.app import create_app
    from bot.demo import demo_secrets, demo_settings, deploy_rich_menu_when_up
    from bot.migrate import upgrade
    from bot.seed import load_demo_data

    try:
        settings = demo_settings(host=host, port=port, var_dir=var_dir)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    _logging("WARNING")
    upgrade(settings.database_url)
    login = load_demo_data(settings, staff_password=demo_secrets(var_dir)["demo_staff_password"])
    base = settings.public_base_url

    async def announce(app: FastAPI) -> None:
        await deploy_rich_menu_when_up(app, base)
        click.echo("")
        click.secho("madoguchi demo is running", bold=True)
        click.echo(f"  LINE sandbox chat : {base}/sandbox")
        click.echo(f"  Staff admin       : {base}/admin")
        if login:
            click.echo(f"  Demo staff login  : {login[0]} / {login[1]}")
        click.echo(f"  Database          : {settings.database_url}")
        click.echo("  Stop with Ctrl+C.")

    app = create_app(settings, startup_hooks=[announce])
    uvicorn.run(app, host=host, port=port, log_level="warning")


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(0, 32),
    help="Inbox worker processes started beside the web process (0: the web process processes too)."
    " Default: 1 on PostgreSQL, 0 on SQLite.",
)
def serve(host: str, port: int, workers: int | None) -> None:
    """Production: real LINE, settings from the environment."""
    import uvicorn

    from bot.app import create_app
    from bot.supervisor import WorkerSupervisor

    settings = settings_for_command()
    try:
        settings.require_line()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    _logging(settings.log_level)
    if workers is None:
        workers = 0 if _is_sqlite(settings) else 1
    elif workers and _is_sqlite(settings):
        raise click.ClickException(SQLITE_ONE_PROCESS)
    supervisor = None
    if workers:
        # The web process only verifies, stores and acknowledges, so LINE's 200 never waits behind
        # processing; the workers take the inbox (and share it safely, see bot/inbox.py).
        settings = settings.model_copy(update={"process_inbox_in_web": False})
        # Workers run at a lower CPU priority: when the box is busy, acknowledging LINE comes first
        # and processing takes what is left (the inbox holds the backlog safely). A worker that
        # dies is started again (bot/supervisor.py).
        command = [sys.executable, "-m", "bot.cli", "worker", "--nice", "10"]
        die_with_parent = _die_with_parent_hook()
        supervisor = WorkerSupervisor(
            command, workers, start=lambda cmd: subprocess.Popen(cmd, preexec_fn=die_with_parent)
        )
        supervisor.start()
    try:
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_level=settings.log_level.lower(),
            proxy_headers=True,
            forwarded_allow_ips=settings.forwarded_allow_ips,
        )
    finally:
        if supervisor is not None:
            supervisor.stop()


SQLITE_ONE_PROCESS = (
    "SQLite has one writer, so madoguchi runs on it as one process: drop --workers and do not start"
    " `madoguchi worker`, or set DATABASE_URL to PostgreSQL."
)


def _is_sqlite(settings: Settings) -> bool:
    return settings.database_url.startswith("sqlite")


def _die_with_parent_hook() -> Callable[[], None]:
    """Linux: a worker started by `serve` is stopped by the kernel if `serve` dies, even by SIGKILL.
    libc is loaded here, before any fork: the hook runs in the child, where loading is not safe."""
    import ctypes
    import signal

    try:
        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return lambda: None

    def die_with_parent() -> None:
        with contextlib.suppress(OSError):
            prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    return die_with_parent


@main.command()
@click.option(
    "--nice", default=0, show_default=True, type=click.IntRange(0, 19), help="Lower this process's CPU priority."
)
def worker(nice: int) -> None:
    """Process the inbox and deliveries in a separate process (PostgreSQL deployments)."""
    import os

    from bot.worker import run_worker

    if nice:
        os.nice(nice)
    settings = settings_for_command()
    if _is_sqlite(settings):
        # Another process on the same SQLite file would fight the web process for its one write
        # lock across processes, where waiting means SQLite's sleep-and-retry, and LINE's
        # acknowledgements would wait behind processing (bench/webhook.py shows it).
        raise click.ClickException(SQLITE_ONE_PROCESS)
    try:
        settings.require_line()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    _logging(settings.log_level)
    import uvloop  # as uvicorn uses for the web process: the worker's HTTP to LINE is event-loop work

    uvloop.run(run_worker(settings))


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema to the newest revision."""
    from bot.migrate import current, upgrade

    settings = settings_for_command()
    upgrade(settings.database_url, revision)
    click.echo(f"database at revision {current(settings.database_url)}")


@db.command("current")
def db_current() -> None:
    from bot.migrate import current

    click.echo(current(settings_for_command().database_url) or "(empty)")


@db.command("revision")
@click.option("-m", "--message", required=True, help='What the migration does, e.g. "classes".')
@click.option("--autogenerate/--empty", default=True, show_default=True)
def db_revision(message: str, autogenerate: bool) -> None:
    """Write a new migration (the next number, on the newest head), from what the models add."""
    from bot.migrate import revision

    click.echo(f"written: {revision(settings_for_command().database_url, message, autogenerate=autogenerate)}")


@main.group()
def richmenu() -> None:
    """The rich menu (the citizen's main entrance)."""


@richmenu.command("deploy")
def richmenu_deploy() -> None:
    """Create the rich menu through the LINE API, upload its image and make it the default."""
    from bot import richmenu as richmenu_module
    from bot.line_client import LineClient

    settings = settings_for_command()
    if not settings.line_channel_access_token:
        raise click.ClickException("LINE_CHANNEL_ACCESS_TOKEN is not set.")

    async def run() -> str:
        client = LineClient(settings)
        try:
            return await richmenu_module.deploy(api=client.api, blob_api=client.blob_api)
        finally:
            await client.close()

    click.echo(f"rich menu deployed: {asyncio.run(run())}")


def _add_groups() -> None:
    """`madoguchi nlu`, `madoguchi admin` and each capability's own group (bot/capabilities.py)."""
    from bot import capabilities as capability_list
    from nlu.cli import nlu_group

    main.add_command(nlu_group, "nlu")
    for capability in capability_list.load():
        if capability.cli is not None:
            main.add_command(capability.cli(), capability.name)
    main.add_command(capability_list.staff_ui().command_group(), "admin")


_add_groups()


if __name__ == "__main__":
    main()
