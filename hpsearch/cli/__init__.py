"""The ``hpsearch`` command line: thin wrappers that parse, call the library and print.

Each command group lives in its own module and registers itself on ``cli``.
"""

from __future__ import annotations

import sys

import click

from hpsearch.errors import HpsearchError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hpsearch")
def cli() -> None:
    """hpsearch: hyperparameter search for a NumPy neural network, driven by Optuna.

    Start with `hpsearch run studies/digits-quick.toml`.
    """


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

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # hpsearch prints its own progress
    _register_commands()
    try:
        # Not standalone, click returns the code of a ``click.exceptions.Exit``.
        code = cli.main(args=argv, prog_name="hpsearch", standalone_mode=False)
    except HpsearchError as error:
        click.echo(f"error: {error}", err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.exceptions.Exit as exit_:
        return exit_.exit_code
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
