"""``media-analysis``: one entry point for every service and admin task (one
module, a little over the usual size, so every command is listed in one place).

media-analysis api            command + query HTTP API on API_HOST:API_PORT
media-analysis command-api    the command side alone
media-analysis query-api      the query side alone
media-analysis processor      the media processors (a consumer group member)
media-analysis projector      the read-model projector
media-analysis notifier       the webhook notifier (records and sends webhooks)
media-analysis all            api, processor, projector and notifier in one process
media-analysis migrate        alembic upgrade head
media-analysis create-topics  create the event topics (retention forever)
media-analysis projection rebuild  replay the log into fresh tables, then switch to them
media-analysis projection verify   compare the live table with a replay of the log
media-analysis projection recount  rebuild the history counts from the table (after a bulk load)
media-analysis keys create --tenant new --name NAME   a new API key (shown once)
media-analysis keys list | keys revoke <id>           the keys, and revoking one
media-analysis keys webhook-secret --tenant ID        create or rotate a tenant's webhook secret
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import uvloop

from infra.heap import tune_collector
from infra.settings import Settings, configure_logging
from infra.supervision import ConsumerFailed, Failures

if TYPE_CHECKING:
    import uvicorn
    from faststream.kafka import KafkaBroker

    from entrypoints.app import Side
    from infra.ops_server import OpsEndpoints
    from processors.bootstrap import Close

# Each command imports what it runs: a consumer or an admin command does not load
# the HTTP API (FastAPI, every route, uvicorn) or alembic, so it starts sooner and
# holds less memory.

log = logging.getLogger("media_analysis")

HTTP_SERVICES = ("api", "command-api", "query-api")
SERVICES = (*HTTP_SERVICES, "processor", "projector", "notifier", "all")


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def _api_server(
    settings: Settings, sides: tuple[Side, ...], ops: OpsEndpoints | None
) -> uvicorn.Server:
    import uvicorn

    from entrypoints.app import build_app

    config = uvicorn.Config(
        build_app(settings, sides, ops),
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        log_config=None,  # its records go through ours (infra.logs)
        access_log=False,  # http_edge.metrics logs each request, with its route
        lifespan="on",
    )
    server = uvicorn.Server(config)
    return server


async def _run_brokers(
    brokers: Sequence[KafkaBroker],
    closers: Sequence[Close],
    failures: Failures,
    until: Awaitable[None],
    stop: Callable[[], None] | None = None,
    loops: Sequence[Close] = (),
) -> None:
    """Run the consumers (and ``loops`` beside them, such as the notifier's delivery
    loop) until ``until``, or until one of them fails (``stop`` then
    ends ``until``, and the failure is raised: the process exits with an error for
    its supervisor to restart it); then stop them and close what their composition
    roots built besides (connection pools, Kafka clients)."""
    for broker in brokers:
        await broker.start()
    background = [asyncio.ensure_future(loop()) for loop in loops]
    for task in background:
        failures.watch(task, "a background loop")
    tune_collector()
    log.info("consumers started")
    running = asyncio.ensure_future(until)
    failed = asyncio.ensure_future(failures.wait())
    try:
        await asyncio.wait({running, failed}, return_when=asyncio.FIRST_COMPLETED)
        if failed.done():
            if stop is not None:
                stop()
                await running
            raise failed.result()
        await running
    finally:
        running.cancel()
        failed.cancel()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        for broker in brokers:
            await broker.stop()
        for close in closers:
            await close()


def _consumers(
    settings: Settings, names: Sequence[str], failures: Failures, ops: dict[str, OpsEndpoints]
) -> tuple[list[KafkaBroker], list[Close], list[Close]]:
    """Build the consumers ``names``; each one's checks and gauges go to ``ops[name]``;
    also the loops that run beside them (the notifier's deliveries)."""
    brokers: list[KafkaBroker] = []
    closers: list[Close] = []
    loops: list[Close] = []
    if "processor" in names:
        from processors.bootstrap import build_broker as build_processor

        broker, close = build_processor(settings, failures, ops["processor"])
        brokers.append(broker)
        closers.append(close)
    if "projector" in names:
        from projector.bootstrap import build_broker as build_projector

        broker, engine = build_projector(settings, failures, ops["projector"])
        brokers.append(broker)
        closers.append(engine.dispose)
    if "notifier" in names:
        from notifier.bootstrap import build_broker as build_notifier

        broker, deliver, close = build_notifier(settings, failures, ops["notifier"])
        brokers.append(broker)
        loops.append(deliver)
        closers.append(close)
    return brokers, closers, loops


OPS_PORTS: dict[str, Callable[[Settings], int]] = {
    "processor": lambda s: s.processor_http_port,
    "projector": lambda s: s.projector_http_port,
    "notifier": lambda s: s.notifier_http_port,
}
"""Where each consumer run on its own serves /metrics, /healthz and /readyz (0: nowhere)."""


async def _serve(settings: Settings, api: tuple[Side, ...], consumers: Sequence[str]) -> None:
    # Imported here: uvicorn's API workers re-import this module as they start, and
    # must answer its health pings soon after (it pulls in the database drivers).
    from infra.ops_server import OpsEndpoints, serve_ops

    failures = Failures()
    ops = {name: OpsEndpoints() for name in consumers}
    brokers, closers, loops = _consumers(settings, consumers, failures, ops)
    if not api:
        async with contextlib.AsyncExitStack() as stack:
            for name in consumers:
                if port := OPS_PORTS[name](settings):
                    await stack.enter_async_context(serve_ops(ops[name], settings.api_host, port))
            await _run_brokers(brokers, closers, failures, _until_signalled(), loops=loops)
        return
    # One process runs everything: the API's port answers for the consumers too.
    combined = OpsEndpoints()
    for name, endpoints in ops.items():
        combined.include(name, endpoints)
    server = _api_server(settings, api, combined if consumers else None)

    def stop_server() -> None:
        server.should_exit = True

    # uvicorn installs its own signal handlers and returns when told to stop.
    await _run_brokers(brokers, closers, failures, server.serve(), stop_server, loops)


WORKER_HEALTHCHECK_SECONDS = 30


def _serve_http(settings: Settings, sides: tuple[Side, ...]) -> None:
    """The HTTP API alone: in this process, or in ``API_WORKERS`` worker processes
    sharing its port (uvicorn's supervisor starts them, replaces one that dies and
    stops them on SIGTERM). Workers count their metrics in a shared directory
    (prometheus-client's multiprocess mode), so any of them answers /metrics for all."""
    if settings.api_workers == 1:
        _run(lambda: _serve(settings, sides, ()))
        return
    import uvicorn

    # Imported before PROMETHEUS_MULTIPROC_DIR is set, as the workers' parent.
    from entrypoints.app import FACTORIES

    with tempfile.TemporaryDirectory(prefix="media-analysis-metrics-") as samples:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = samples  # inherited by every worker
        uvicorn.run(
            FACTORIES[sides],
            factory=True,
            host=settings.api_host,
            port=settings.api_port,
            workers=settings.api_workers,
            loop="uvloop",
            lifespan="on",
            log_config=None,
            access_log=False,
            log_level=settings.log_level.lower(),
            # The supervisor kills a worker that does not answer its ping in time;
            # on a busy machine a healthy worker (one starting, say) can take
            # longer than uvicorn's 5 s default.
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        )


def _run(coro_factory: Callable[[], Awaitable[object]]) -> None:
    async def main() -> None:
        await coro_factory()

    # uvloop: the request path, the Kafka clients and the database driver all run
    # on this one loop, and uvloop's costs less per callback.
    with contextlib.suppress(KeyboardInterrupt):
        try:
            uvloop.run(main())
        except ConsumerFailed as exc:
            log.critical("exiting: %s", exc)
            raise SystemExit(1) from exc


COMMANDS = {
    "api": "the command and query HTTP API on API_HOST:API_PORT (API_WORKERS processes)",
    "command-api": "the command side of the HTTP API alone",
    "query-api": "the query side of the HTTP API alone",
    "processor": "the media processors: a member of the processors' consumer group",
    "projector": "the projector: folds the event log into the read-model tables",
    "notifier": "the webhook notifier: records and sends signed webhook deliveries",
    "all": "api, processor, projector and notifier in one process",
    "migrate": "migrate the database to the newest schema (alembic upgrade head)",
    "create-topics": "create the event topics with retention forever (existing ones are kept)",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="media-analysis",
        description="Every service and admin task of Media Analysis, one command each "
        "(`media-analysis COMMAND --help` for one). Settings come from the environment.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name, summary in COMMANDS.items():
        commands.add_parser(name, help=summary, description=summary)
    projection = commands.add_parser(
        "projection",
        help="rebuild, verify or recount the projection",
        description="Maintain the read model's projection of the event log.",
    )
    projection.add_argument(
        "action",
        choices=["rebuild", "verify", "recount"],
        help="rebuild: replay the log into fresh tables, then switch to them; "
        "verify: compare the live table with a replay of the log; "
        "recount: rebuild the history counts from the table (after a bulk load)",
    )
    keys = commands.add_parser(
        "keys",
        help="create, list or revoke API keys; set a tenant's webhook secret",
        description="API keys (API_AUTH_REQUIRED): a new key is shown once.",
    )
    keys.add_argument("action", choices=["create", "list", "revoke", "webhook-secret"])
    keys.add_argument("key_id", nargs="?", help="keys revoke: the key's id")
    keys.add_argument("--tenant", help="keys create: the tenant's UUID, or 'new'")
    keys.add_argument("--name", help="keys create: a name to recognise the key by")
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("media-analysis")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(settings, args.command)
    command: str = args.command
    if command in SERVICES and not (command in HTTP_SERVICES and settings.api_workers > 1):
        # (API workers in their own processes set up their own: entrypoints.app.)
        from infra.tracing import configure_tracing

        configure_tracing(settings, command)
    if command == "migrate":
        from infra import migrations

        migrations.upgrade(settings)
        print("database migrated to head")
    elif command == "create-topics":
        from infra.topic_admin import ensure_topics

        created = asyncio.run(ensure_topics(settings))
        print(f"topics ready (created: {', '.join(created) or 'none'})")
    elif command == "api":
        _serve_http(settings, ("command", "query"))
    elif command == "command-api":
        _serve_http(settings, ("command",))
    elif command == "query-api":
        _serve_http(settings, ("query",))
    elif command in ("processor", "projector", "notifier"):
        _run(lambda: _serve(settings, (), (command,)))
    elif command == "projection":
        from projector.commands import projection_command

        return projection_command(args.action, settings)
    elif command == "keys":
        from entrypoints.key_commands import keys_command

        return keys_command(
            args.action, settings, tenant=args.tenant, name=args.name, key_id=args.key_id
        )
    elif command == "all":
        _run(lambda: _serve(settings, ("command", "query"), ("processor", "projector", "notifier")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
