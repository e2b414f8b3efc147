"""`cwo completion bash|zsh|fish`: click's shell completion script for cwo."""

from __future__ import annotations

import click

__all__ = ["completion_cmd"]


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion_cmd(shell: str) -> None:
    """Print the shell completion script of cwo for SHELL.

    The script asks `cwo` itself for completions (commands, options, choices),
    so it stays right when cwo is upgraded.

    Example:

    \b
        eval "$(cwo completion bash)"                       # in ~/.bashrc
        eval "$(cwo completion zsh)"                        # in ~/.zshrc
        cwo completion fish > ~/.config/fish/completions/cwo.fish
    """
    from click.shell_completion import get_completion_class

    # The root group from the context, not an import of it: the group imports
    # this module to register the command.
    root = click.get_current_context().find_root().command
    completion_class = get_completion_class(shell)
    if completion_class is None:  # click knows the three shells of the Choice above
        raise click.UsageError(f"no completion for {shell}")
    click.echo(completion_class(root, {}, "cwo", "_CWO_COMPLETE").source())
