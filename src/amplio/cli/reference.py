"""Render the CLI reference (docs/cli.md) from the commands' own ``--help``.

``python -m amplio.cli.reference > docs/cli.md``; a test fails when the file is stale.
"""

from __future__ import annotations

import click


def render() -> str:
    from amplio.cli import commands  # noqa: F401  (registers every command)
    from amplio.cli.main import cli

    parts = ["# CLI reference", "",
             "Generated from `--help` by `python -m amplio.cli.reference > docs/cli.md`; do not edit.",
             "Every command exits 0 on success and 2 on bad input, with a one-line reason on stderr.", ""]
    # Commands inherit -h/--help from the group's context settings, as when run for real.
    root = cli.make_context("amplio", [], resilient_parsing=True)
    for name in sorted(cli.commands):
        command = cli.commands[name]
        # A fixed width keeps the file identical whatever terminal renders it.
        ctx = click.Context(command, parent=root, info_name=name, terminal_width=88,
                            max_content_width=88)
        parts += [f"## amplio {name}", "", "```", command.get_help(ctx), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
