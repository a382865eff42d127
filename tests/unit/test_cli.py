"""The ``media-analysis`` command line as an operator meets it: a version, and
help for every command."""

from __future__ import annotations

import argparse
from importlib.metadata import version

import pytest

from entrypoints.cli import _parser, main


def test_version_is_the_installed_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"media-analysis {version('media-analysis')}"


def test_every_command_has_help_of_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    (commands,) = (a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    listed = {action.dest: action.help for action in commands._choices_actions}
    assert set(listed) == set(commands.choices)
    for name in commands.choices:
        assert listed[name], f"{name} has no help text"
        with pytest.raises(SystemExit) as exited:
            main([name, "--help"])
        assert exited.value.code == 0
        assert f"usage: media-analysis {name}" in capsys.readouterr().out


def test_an_action_is_required_where_a_command_has_several(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["projection"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "{rebuild,verify,recount}" in err
    assert "required: action" in err
