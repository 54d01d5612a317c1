"""The ``syn2real`` command line: one thin command per capability."""

from __future__ import annotations

import typer

from . import analysis as analysis_cli
from . import data as data_cli
from . import fit as fit_cli
from . import render as render_cli
from . import search as search_cli
from . import sweep as sweep_cli
from . import theory
from . import train as train_cli
from .common import out, set_debug

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Scaling laws for synthetic-to-real transfer: fit, advise, report.")


@app.callback()
def _options(debug: bool = typer.Option(False, "--debug", help="Show the traceback of an "
                                        "internal error (also SYN2REAL_DEBUG=1).")) -> None:
    """Scaling laws for synthetic-to-real transfer: fit, advise, report."""
    set_debug(debug)


app.command(name="fit")(fit_cli.fit)
app.command(name="advise")(fit_cli.advise)
app.command(name="report")(fit_cli.report)
app.command(name="collect")(fit_cli.collect)
app.add_typer(theory.app, name="theory")
app.command(name="render")(render_cli.render)
app.command(name="verify")(render_cli.verify)
app.command(name="export-data")(data_cli.export_data)
app.command(name="subsets")(data_cli.subsets)
app.command(name="pretrain")(train_cli.pretrain)
app.command(name="finetune")(train_cli.finetune)
app.command(name="plan")(sweep_cli.plan)
app.command(name="run")(sweep_cli.run)
app.command(name="search")(search_cli.search)
app.command(name="export")(sweep_cli.export)
app.command(name="complexity")(analysis_cli.complexity)
app.command(name="modelsize")(analysis_cli.modelsize)


@app.command()
def version() -> None:
    """Print the version."""
    from .. import __version__

    out.print(__version__)


def empty_argument(argv: list[str]) -> str | None:
    """The one-line error for an empty argument (``-o ''`` would mean the current folder,
    ``--where ''`` nothing at all), or None."""
    for i, arg in enumerate(argv):
        opt = arg[:-1] if arg.startswith("-") and arg.endswith("=") else None
        if arg == "" or opt:
            after = opt or (argv[i - 1] if i and argv[i - 1].startswith("-") else None)
            what = f"the value of {after}" if after else f"argument {i + 1}"
            return (f"{what} is empty (a path would mean the current folder). Fix: give a "
                    "value, or leave the option out")
    return None


def main() -> None:
    """Console-script entry point."""
    import sys

    msg = empty_argument(sys.argv[1:])
    if msg is not None:
        from .common import stderr

        stderr.print(f"[bold red]error:[/] {msg}", highlight=False, soft_wrap=True)
        raise SystemExit(2)
    app()


if __name__ == "__main__":
    main()
