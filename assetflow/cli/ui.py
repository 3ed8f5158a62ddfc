"""`assetflow ui`: serve the web UI of the project.

Nothing of the server (starlette, uvicorn, jinja2) is imported unless this command
runs, so `assetflow --help` stays as fast as without it.
"""

from __future__ import annotations

import os

import click

from assetflow.cli.base import Options, cli, pass_options


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="The address to serve on; any other than 127.0.0.1, ::1 or localhost asks for "
    "a token in ASSETFLOW_UI_TOKEN.",
)
@click.option("--port", default=3000, show_default=True, type=int, help="The port to serve on.")
@click.option("--open", "open_browser", is_flag=True, help="Open the UI in the web browser.")
@pass_options
def ui(options: Options, host: str, port: int, open_browser: bool) -> None:
    """Serve the web UI: lineage, assets, runs, schedules and incidents (Ctrl-C stops).

    It reads the same store as the CLI, while runs and the scheduler write it.
    Bound to an address other than 127.0.0.1, every request needs the token in
    ASSETFLOW_UI_TOKEN (a login form for browsers, a bearer header for scripts).
    """
    from assetflow.ui.server import listen, serve, ui_token

    # The address and the token are checked before the project loads: a mistake
    # there is said at once.
    ui_token(host, os.environ)
    listen(host, port).close()
    project = options.load()

    def opened(url: str) -> None:
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    serve(
        project,
        host,
        port,
        environ=os.environ,
        echo=lambda line: click.echo(line),
        on_listening=opened,
    )
