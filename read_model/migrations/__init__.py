"""The schema of the read model as Alembic migrations, and running them from code
(``media-analysis migrate``). They ship inside the package, so an installed wheel
migrates without a checkout; ``alembic.ini`` at the repository root points the
``alembic`` command at the same scripts for developers."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config

from infra.settings import Settings


def alembic_config(settings: Settings) -> Config:
    config = Config()
    # A wheel installs the package as plain files, so the resource is a directory.
    config.set_main_option("script_location", str(files(__name__)))
    config.attributes["database_url"] = settings.database_url
    config.attributes["configure_logging"] = False
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)
