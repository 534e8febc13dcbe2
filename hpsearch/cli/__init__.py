"""The ``hpsearch`` command line: thin wrappers that parse, call the library and print.

Each command group lives in its own module and registers itself on ``cli``.
Exit codes, the same for every command: 0 done, 1 an error (one line on stderr), 2 a
usage error, 130 interrupted by Ctrl-C (SIGINT). SIGTERM stops ``run`` and ``worker``
cleanly too, and exits 0 from ``worker`` (a requested shutdown, as Docker and
Kubernetes send) and 130 from ``run``.
"""

from __future__ import annotations

import logging
import sys

import click

from hpsearch.errors import HpsearchError, StorageError

#: Exit code after Ctrl-C, as shells report a process ended by SIGINT (128 + 2).
INTERRUPTED = 130


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    invoke_without_command=True,
)
@click.version_option(package_name="hpsearch")
@click.option("--quiet", "-q", is_flag=True, help="Print only what was asked for, and errors.")
@click.option(
    "--verbose", "-v", count=True, help="Log more: -v a line per trial, -vv debug logs too."
)
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: int) -> None:
    """hpsearch: hyperparameter search for a NumPy neural network, driven by Optuna.

    Start with `hpsearch run studies/digits-quick.toml`.
    """
    from hpsearch.cli.console import Verbosity

    Verbosity.level = -1 if quiet else verbose
    if verbose:
        import optuna

        level = logging.DEBUG if verbose > 1 else logging.INFO
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("hpsearch").setLevel(level)
        optuna.logging.set_verbosity(optuna.logging.INFO)  # a line per finished trial
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def _register_commands() -> None:
    # Imported for their side effect of adding commands to ``cli``.
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("cmd_"):
            importlib.import_module(f"{__name__}.{module.name}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script: errors become one line and exit code 1."""
    import optuna

    from hpsearch.cli.console import Verbosity
    from hpsearch.cli.options import StorageOrigin

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # hpsearch prints its own progress
    Verbosity.level = 0
    StorageOrigin.value = None
    _register_commands()
    try:
        # Not standalone, click returns the code of a ``click.exceptions.Exit``.
        code = cli.main(args=argv, prog_name="hpsearch", standalone_mode=False)
    except StorageError as error:
        origin = f" (storage URL from {StorageOrigin.value})" if StorageOrigin.value else ""
        click.echo(f"error: {error}{origin}", err=True)
        return 1
    except HpsearchError as error:
        click.echo(f"error: {error}", err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return INTERRUPTED
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.exceptions.Exit as exit_:
        return exit_.exit_code
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
