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
from vigil.services.scopes import Limits, UserScopes
from vigil.services.users import UserService
from vigil.store.tables import Role

users_app = typer.Typer(help="Users of the API and console, and their API tokens.", no_args_is_help=True)
console = Console(soft_wrap=True, highlight=False)


ListsOption = Annotated[
    str | None,
    typer.Option(
        "--lists", help="Limit the user to these lists (comma-separated names; '' lifts the limit)."
    ),
]
CamerasOption = Annotated[
    str | None,
    typer.Option("--cameras", help="Limit the user to these cameras (comma-separated names; '' lifts it)."),
]


def _users(config: ConfigOption) -> UserService:
    cfg = load_cli_config(config, None)
    return UserService(open_store(cfg).db, cfg.server.session_hours)


def _limits(config: ConfigOption) -> UserScopes:
    return UserScopes(open_store(load_cli_config(config, None)).db)


def _names(text: str | None) -> list[str] | None:
    """'A, B' -> ['A', 'B']; '' -> [] (no limit); None -> None (leave as is)."""
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


def _describe(limits: Limits) -> str:
    lists = ", ".join(limits.lists) or "every list"
    cameras = ", ".join(limits.cameras) or "every camera"
    return f"lists: {lists}; cameras: {cameras}"


@users_app.command("ls")
def users_ls(config: ConfigOption = None) -> None:
    """List users (name, role, disabled, the lists and cameras they are limited to)."""
    with cli_errors():
        users = _users(config).all()
        limits = _limits(config).all()
    table = Table("user", "role", "disabled", "created", "lists", "cameras")
    for u in users:
        created = u.created_at.strftime("%Y-%m-%d")
        scope = limits.get(u.id, Limits([], []))
        table.add_row(
            u.username, u.role.value, "yes" if u.disabled else "", created, ", ".join(scope.lists),
            ", ".join(scope.cameras),
        )  # fmt: skip
    console.print(table)


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[Role, typer.Option(help="viewer, operator, admin or auditor.")] = Role.VIEWER,
    lists: ListsOption = None,
    cameras: CamerasOption = None,
    reason: ReasonOption = "",
    actor: ActorOption = None,
    config: ConfigOption = None,
) -> None:
    """Create a user with a random password, printed once; with --lists/--cameras, limited to them."""
    with cli_errors():
        scopes = _limits(config)
        scopes.check(_names(lists), _names(cameras))
        info, password = _users(config).create(username, role, actor_of(actor), reason=reason)
        if _names(lists) or _names(cameras):
            limits = scopes.limit(
                actor_of(actor), username, lists=_names(lists), cameras=_names(cameras), reason=reason
            )
            console.print(f"{username} is limited to {_describe(limits)}")
    console.print(f"created {info.username} ({info.role.value})\npassword: {password}")


@users_app.command("scope")
def users_scope(
    username: str,
    lists: ListsOption = None,
    cameras: CamerasOption = None,
    reason: ReasonOption = "",
    actor: ActorOption = None,
    config: ConfigOption = None,
) -> None:
    """Limit a user to some lists and/or cameras (audited), or show their limits when given neither.

    The API enforces the limits on every route; admins are never limited."""
    with cli_errors():
        scopes = _limits(config)
        if lists is None and cameras is None:
            user = _users(config).get(username)
            console.print(f"{username}: {_describe(scopes.limits_of(user.id))}")
            return
        limits = scopes.limit(
            actor_of(actor), username, lists=_names(lists), cameras=_names(cameras), reason=reason
        )
    console.print(f"{username}: {_describe(limits)}")


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
