"""Run the Alembic migrations from code (``media-analysis migrate``)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from alembic import command
from infra.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def alembic_config(settings: Settings) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.attributes["database_url"] = settings.database_url
    config.attributes["configure_logging"] = False
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)
