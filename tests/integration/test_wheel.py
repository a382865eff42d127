"""The package as an operator installs it: a wheel built from the sources the
Dockerfile copies, installed (not editable) into a fresh virtual environment
outside the checkout, whose ``media-analysis`` reports its version and migrates
an empty database with the migrations inside the wheel."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import plain_dsn, scratch_database

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def empty_db(infra_env: dict[str, str]) -> Iterator[str]:
    with scratch_database(infra_env["DATABASE_URL"], "wheel") as url:
        yield url


def _build_stage_copies() -> list[str]:
    """The sources the Dockerfile's build stage copies into its working directory."""
    build_stage = (ROOT / "Dockerfile").read_text().split("\nFROM ")[1]  # [0]: the comments
    return [
        name
        for line in build_stage.splitlines()
        if line.startswith("COPY ") and "--from" not in line
        for name in line.split()[1:-1]
    ]


def _sources(into: Path) -> Path:
    """What the Dockerfile's build stage copies, and nothing else, to build from."""
    source = into / "source"
    source.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in _build_stage_copies():
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=skip)
        else:
            shutil.copy2(ROOT / name, source / name)
    return source


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel; its dependencies come from the project's venv
    through a .pth path line (no download), added after the install so pip never
    sees the project's own editable install."""
    tmp = tmp_path_factory.mktemp("wheel")
    wheels = tmp / "dist"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"),
            *("--no-index", "-w", str(wheels), str(_sources(tmp))),
        ],
        check=True,
        timeout=300,
        cwd=tmp,
    )
    (wheel,) = wheels.glob("media_analysis-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "-q"),
            *("--no-deps", "--no-index", str(wheel)),
        ],
        check=True,
        timeout=300,
        cwd=tmp,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "project_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return venv


def run_installed(venv: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run in the venv from a directory outside the checkout, so nothing of it is importable."""
    outside = venv.parent / "elsewhere"
    outside.mkdir(exist_ok=True)
    clean = {k: v for k, v in (env or os.environ).items() if k != "PYTHONPATH"}
    result = subprocess.run(
        list(args), cwd=outside, env=clean, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_package_is_imported_from_the_wheel_not_the_checkout(installed: Path) -> None:
    where = run_installed(
        installed,
        str(installed / "bin" / "python"),
        "-c",
        "import command_api, notifier.bootstrap as n, infra.migrations as m;"
        " print(command_api.__file__, n.__file__, m.script_location())",
    )
    for path in where.split():
        assert Path(path).is_relative_to(installed), where
    licenses = list(installed.glob("lib/python*/site-packages/media_analysis-*/licenses/LICENSE"))
    assert licenses, "the wheel carries no LICENSE"
    assert "Apache License" in licenses[0].read_text()


def test_every_package_of_the_checkout_is_listed_for_the_wheel() -> None:
    from setuptools import find_packages

    roots = PYPROJECT["tool"]["importlinter"]["root_packages"]
    in_checkout = set(find_packages(str(ROOT), include=[f"{r}*" for r in roots]))
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert in_checkout <= listed, f"add to [tool.setuptools] packages: {in_checkout - listed}"
    migrations = PYPROJECT["tool"]["setuptools"]["package-dir"]["media_analysis_migrations"]
    assert (ROOT / migrations / "env.py").is_file()
    copied = set(_build_stage_copies())
    for package in {p.split(".")[0] for p in listed} - {"media_analysis_migrations"}:
        assert package in copied, f"the Dockerfile's build stage does not copy {package}/"
    assert migrations in copied


def test_version_comes_from_the_package_metadata(installed: Path) -> None:
    out = run_installed(installed, str(installed / "bin" / "media-analysis"), "--version")
    assert out.strip() == f"media-analysis {PYPROJECT['project']['version']}"


def test_migrate_from_the_wheel_creates_the_schema(installed: Path, empty_db: str) -> None:
    env = {**os.environ, "DATABASE_URL": empty_db}
    out = run_installed(installed, str(installed / "bin" / "media-analysis"), "migrate", env=env)
    assert "database migrated to head" in out

    async def schema() -> tuple[set[str], str]:
        conn = await asyncpg.connect(plain_dsn(empty_db))
        try:
            rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
            return {r["tablename"] for r in rows}, await conn.fetchval(
                "SELECT version_num FROM alembic_version"
            )
        finally:
            await conn.close()

    tables, version = asyncio.run(schema())
    assert {"analysis_request", "analysis_event", "projection_position", "api_key"} <= tables
    newest = sorted(p.name for p in (ROOT / "alembic/versions").glob("0*.py"))[-1]
    assert newest.startswith(version), (version, newest)
