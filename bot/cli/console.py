"""`articlebot console`: the operators' web console (console/), on 127.0.0.1 by default."""

from __future__ import annotations

import click

from bot.cli.common import load_config


@click.command(name="console")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (anything but loopback needs --allow-remote).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on (0: any free port).")
@click.option("--allow-remote", is_flag=True, help="Allow listening on an address other machines can reach (put HTTPS in front).")
def console(host: str, port: int, allow_remote: bool) -> None:
    """Review conversations, content gaps and articles in a web page (sign in with a token)."""
    from console.auth import new_token
    from console.server import ConsoleError, serve

    config = load_config()
    token = config.console_token or new_token()

    def announce(url: str) -> None:
        click.echo(f"articlebot console: {url}  (Ctrl+C stops it)")
        if config.console_token:
            click.echo("Sign in with the token in ARTICLEBOT_CONSOLE_TOKEN.")
        else:
            click.echo(f"Sign in with this token (made for this run; set ARTICLEBOT_CONSOLE_TOKEN to keep one): {token}")

    try:
        serve(config, host=host, port=port, token=token, allow_remote=allow_remote, announce=announce)
    except ConsoleError as exc:
        raise click.ClickException(str(exc)) from None
