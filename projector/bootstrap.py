"""Composition root of the projector."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.database import create_engine
from infra.kafka import build_kafka_broker
from infra.kafka_security import kafka_connection
from infra.ops_server import OpsEndpoints
from infra.readiness import KafkaCheck, engine_check
from infra.settings import Settings
from infra.supervision import Failures
from projector.consumer import register


def build_broker(
    settings: Settings, failures: Failures, ops: OpsEndpoints | None = None
) -> tuple[KafkaBroker, AsyncEngine]:
    """The projector's broker and the engine it writes through; what its consumer
    cannot handle goes to ``failures``; its readiness checks and lag go to ``ops``."""
    broker = build_kafka_broker(settings, "media-analysis-projector", typed_bodies=True)
    # Custom plans: its batch statements run on tables that grow under them
    # (infra.database.CUSTOM_PLANS); planning is nothing next to a batch.
    engine = create_engine(settings, pool_size=2, custom_plans=True, name="projector")
    if ops is not None:
        kafka_check = KafkaCheck(kafka_connection(settings))
        ops.add_check("kafka", kafka_check)
        ops.on_close(kafka_check.close)
        ops.add_check("postgres", engine_check(engine))
    register(broker, engine, failures, group_id=settings.projector_group_id, ops=ops)
    return broker, engine
