"""Composition root of the projector."""

from __future__ import annotations

from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.database import create_engine
from infra.kafka import build_kafka_broker
from infra.settings import Settings
from projector.consumer import register


def build_broker(settings: Settings) -> tuple[KafkaBroker, AsyncEngine]:
    """The projector's broker and the engine it writes through."""
    broker = build_kafka_broker(settings, "media-analysis-projector")
    # Custom plans: its batch statements run on tables that grow under them
    # (infra.database.CUSTOM_PLANS); planning is nothing next to a batch.
    engine = create_engine(settings, pool_size=2, custom_plans=True)
    register(broker, engine, group_id=settings.projector_group_id)
    return broker, engine
