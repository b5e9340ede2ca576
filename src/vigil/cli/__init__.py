"""The `vigil` command line: one sub-command per job, all built on the composition root."""

from __future__ import annotations

import logging

import typer

app = typer.Typer(
    name="vigil",
    help="Vigil: find, track and identify watchlisted people in video, accountably.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug details.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def main() -> None:
    app()
