"""Running the read model's Alembic migrations from code (``media-analysis migrate``).

The scripts live in ``alembic/`` of the checkout, where ``alembic.ini`` points the
``alembic`` command at them; the wheel installs that folder as the package
``media_analysis_migrations`` (a setuptools package-dir mapping), so an installed
service migrates without a checkout.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from alembic import command
from alembic.config import Config

from infra.settings import Settings

SCRIPTS = "media_analysis_migrations"


def script_location() -> Path:
    """The folder holding ``env.py`` and ``versions/``, in the checkout or the wheel."""
    spec = find_spec(SCRIPTS)
    # A folder without __init__.py: a namespace package, so its path, not files().
    for place in (spec.submodule_search_locations or []) if spec else []:
        if (Path(place) / "env.py").is_file():
            return Path(place)
    raise RuntimeError(f"the migrations ({SCRIPTS}) are not installed: pip install the project")


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.attributes["database_url"] = settings.database_url
    config.attributes["configure_logging"] = False
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)
