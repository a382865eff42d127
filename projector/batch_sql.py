"""The SQL the batch store sends, one set per schema of projection tables.

Each statement takes whole columns as arrays and ``unnest``s them, so a batch's
audit rows, analysis rows, counts and positions are one statement each whatever
the batch's size. It is sent as driver SQL: the parameters reach asyncpg (which
encodes the arrays in binary and keeps the statement prepared) without
SQLAlchemy processing each value, and JSON that is already text (the record
values) is cast by PostgreSQL instead of being parsed and serialised again.

A replay into another schema (``projection_schema.engine_for``) names it in the
connection's ``schema_translate_map``; driver SQL is not translated, so the
table names are qualified here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sqlalchemy.ext.asyncio import AsyncConnection

from projector.projection_schema import quoted
from read_model.changes import CHANGES_CHANNEL
from read_model.tables import POSITIONS_CHANNEL

REQUEST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "uuid"),
    ("status", "text"),
    ("media_type", "text"),
    ("source_url", "text"),
    ("filename", "text"),
    ("analysis_config", "jsonb"),
    ("analysis_options", "jsonb"),
    ("results", "jsonb"),
    ("progress", "int"),
    ("error_message", "text"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("completed_at", "timestamptz"),
    ("deleted_at", "timestamptz"),
    ("created_by", "uuid"),
    ("celery_task_id", "text"),
    ("prompt", "text"),
    ("result_summary", "jsonb"),
)
"""``analysis_request`` columns in the order the upsert takes them; JSONB ones
travel as text (``json.dumps``, so None is JSON null, as SQLAlchemy's JSONB wrote it)."""

JSON_REQUEST_COLUMNS = frozenset(name for name, kind in REQUEST_COLUMNS if kind == "jsonb")


def _unnest(columns: tuple[tuple[str, str], ...]) -> tuple[str, str]:
    """``SELECT`` list and ``FROM unnest(...)`` for ``columns`` as array parameters."""
    arrays = ", ".join(
        f"${i}::{'text' if kind == 'jsonb' else kind}[]"
        for i, (_, kind) in enumerate(columns, start=1)
    )
    names = ", ".join(f"c{i}" for i in range(len(columns)))
    select = ", ".join(
        f"c{i}::jsonb" if kind == "jsonb" else f"c{i}" for i, (_, kind) in enumerate(columns)
    )
    return select, f"unnest({arrays}) AS u({names})"


@dataclass(frozen=True, slots=True)
class BatchSql:
    lock_positions: str
    insert_events: str
    load_states: str
    save_states: str
    add_counts: str
    drop_empty_counts: str
    save_positions: str
    """Saves the positions; for the live tables it also announces them on
    ``read_model.POSITIONS_CHANNEL`` (delivered when the transaction commits),
    built from the rows it saved. Processors wait only for the live positions."""
    announce_changes: str | None = None
    """Sends the change notices (``read_model.changes``) of a batch of the live
    tables; None for a replay into another schema, which nobody follows."""


@cache
def batch_sql(schema: str | None) -> BatchSql:
    """The statements for the tables in ``schema`` (None: the connection's search path)."""
    prefix = f"{quoted(schema)}." if schema else ""
    events, requests = f"{prefix}analysis_event", f"{prefix}analysis_request"
    counts, positions = f"{prefix}analysis_count", f"{prefix}projection_position"
    event_select, event_from = _unnest(
        (
            ("event_id", "text"),
            ("analysis_id", "uuid"),
            ("type", "text"),
            ("schema_version", "int"),
            ("time", "timestamptz"),
            ("partition", "int"),
            ("offset", "bigint"),
            ("correlation_id", "text"),
            ("causation_id", "text"),
            ("data", "jsonb"),
        )
    )
    request_names = ", ".join(name for name, _ in REQUEST_COLUMNS)
    request_select, request_from = _unnest(REQUEST_COLUMNS)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name, _ in REQUEST_COLUMNS[1:])
    save_positions = (
        f"INSERT INTO {positions} (projection, topic, partition, next_offset) "  # noqa: S608
        "SELECT $1::text, $2::text, p, o FROM unnest($3::int[], $4::bigint[]) AS u(p, o) "
        "ON CONFLICT (projection, topic, partition) "
        "DO UPDATE SET next_offset = EXCLUDED.next_offset"
    )
    return BatchSql(
        lock_positions=(
            f"SELECT partition, next_offset FROM {positions} "  # noqa: S608 (identifiers only)
            "WHERE projection = $1 AND topic = $2 AND partition = ANY($3::int[]) FOR UPDATE"
        ),
        insert_events=(
            f"INSERT INTO {events} (event_id, analysis_id, type, schema_version, time, "  # noqa: S608
            f'partition, "offset", correlation_id, causation_id, data) '
            f"SELECT {event_select} FROM {event_from} "
            "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
        ),
        load_states=(
            f"SELECT {request_names} FROM {requests} WHERE id = ANY($1::uuid[]) FOR UPDATE"  # noqa: S608
        ),
        save_states=(
            f"INSERT INTO {requests} ({request_names}) "  # noqa: S608
            f"SELECT {request_select} FROM {request_from} "
            f"ON CONFLICT (id) DO UPDATE SET {updates}"
        ),
        add_counts=(
            f"INSERT INTO {counts} (bucket, tenant, day, status, media_type, n) "  # noqa: S608
            "SELECT * FROM unnest($1::text[], $2::uuid[], $3::date[], $4::text[], "
            "$5::text[], $6::bigint[]) "
            f"ON CONFLICT (bucket) DO UPDATE SET n = {counts}.n + EXCLUDED.n"
        ),
        drop_empty_counts=f"DELETE FROM {counts} WHERE bucket = ANY($1::text[]) AND n = 0",  # noqa: S608
        save_positions=save_positions if schema else _announced(save_positions),
        announce_changes=None
        if schema
        else f"SELECT pg_notify('{CHANGES_CHANNEL}', n) FROM unnest($1::text[]) AS u(n)",  # noqa: S608
    )


NOTICE_MAX_BYTES = 7999
"""PostgreSQL refuses a NOTIFY payload of 8000 bytes or more, and would fail the
batch with it. A longer notice (hundreds of partitions in one batch) goes out
empty: listeners then learn the positions from their fallback poll."""


def _announced(save: str) -> str:
    """``save``, and a notice of what it saved in the same statement (no round trip more)."""
    return (
        f"WITH saved AS ({save} RETURNING partition, next_offset), "  # noqa: S608 (constants)
        "notice AS (SELECT json_build_object('projection', $1::text, 'topic', $2::text, "
        "'positions', json_object_agg(partition, next_offset))::text AS payload FROM saved) "
        f"SELECT pg_notify('{POSITIONS_CHANNEL}', CASE WHEN octet_length(payload) "
        f"<= {NOTICE_MAX_BYTES} THEN payload ELSE '' END) FROM notice"
    )


def sql_for(conn: AsyncConnection) -> BatchSql:
    """The statements for the tables ``conn`` writes (see the module docstring)."""
    options = conn.sync_connection.get_execution_options() if conn.sync_connection else {}
    return batch_sql((options.get("schema_translate_map") or {}).get(None))
