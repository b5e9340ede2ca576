"""`vigil users`: accounts and API tokens from the server's own shell (e.g. when the admin token is lost).

Secrets (a new password, a new token) are printed once on stdout; only their hashes are stored.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil.app import open_store
from vigil.cli.common import ActorOption, ConfigOption, ReasonOption, actor_of, cli_errors, load_cli_config
from vigil.services.credentials import random_password
from vigil.services.users import UserService
from vigil.store.tables import Role

users_app = typer.Typer(help="Users of the API and console, and their API tokens.", no_args_is_help=True)
console = Console(soft_wrap=True, highlight=False)


def _users(config: ConfigOption) -> UserService:
    cfg = load_cli_config(config, None)
    return UserService(open_store(cfg).db, cfg.server.session_hours)


@users_app.command("ls")
def users_ls(config: ConfigOption = None) -> None:
    """List users (name, role, disabled)."""
    with cli_errors():
        users = _users(config).all()
    table = Table("user", "role", "disabled", "created")
    for u in users:
        created = u.created_at.strftime("%Y-%m-%d")
        table.add_row(u.username, u.role.value, "yes" if u.disabled else "", created)
    console.print(table)


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[Role, typer.Option(help="viewer, operator, admin or auditor.")] = Role.VIEWER,
    reason: ReasonOption = "",
    actor: ActorOption = None,
    config: ConfigOption = None,
) -> None:
    """Create a user with a random password, printed once."""
    with cli_errors():
        info, password = _users(config).create(username, role, actor_of(actor), reason=reason)
    console.print(f"created {info.username} ({info.role.value})\npassword: {password}")


@users_app.command("passwd")
def users_passwd(
    username: str, reason: ReasonOption = "", actor: ActorOption = None, config: ConfigOption = None
) -> None:
    """Give a user a new random password (printed once); their sessions end."""
    password = random_password()
    with cli_errors():
        _users(config).set_password(username, password, actor_of(actor), reason=reason)
    console.print(f"password: {password}")


@users_app.command("disable")
def users_disable(
    username: str,
    enable: Annotated[bool, typer.Option("--enable", help="Enable instead.")] = False,
    reason: ReasonOption = "",
    actor: ActorOption = None,
    config: ConfigOption = None,
) -> None:
    """Disable a user (their tokens stop working) or, with --enable, enable them again."""
    with cli_errors():
        info = _users(config).set_disabled(username, not enable, actor_of(actor), reason=reason)
    console.print(f"{info.username}: {'disabled' if info.disabled else 'enabled'}")


@users_app.command("token")
def users_token(
    username: str,
    name: Annotated[str, typer.Option("--name", "-n", help="What the token is for, e.g. 'prometheus'.")],
    reason: ReasonOption = "",
    actor: ActorOption = None,
    config: ConfigOption = None,
) -> None:
    """Issue an API token for a user, printed once."""
    with cli_errors():
        token_id, token = _users(config).issue_token(username, name, actor_of(actor), reason=reason)
    console.print(f"token {token_id} for {username}: {token}")
