"""Create the event topics explicitly: the log is kept forever, never auto-created."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from events import DEAD_LETTER_TOPIC, EVENTS_TOPIC, MediaAnalysisError
from infra.kafka_security import kafka_connection
from infra.settings import Settings


class TopicCreationFailed(MediaAnalysisError):
    """The cluster refused to create a topic (other than: it exists already)."""


def topic_specs(settings: Settings) -> list[NewTopic]:
    """The events topic and its dead-letter topic, both with infinite retention."""
    configs = {
        "retention.ms": "-1",
        "retention.bytes": "-1",
        "min.insync.replicas": str(settings.kafka_min_insync_replicas),
        # Only an in-sync copy may lead: an acknowledged event is never dropped.
        "unclean.leader.election.enable": "false",
        "cleanup.policy": "delete",
    }
    return [
        NewTopic(
            name=name,
            num_partitions=settings.kafka_topic_partitions,
            replication_factor=settings.kafka_replication_factor,
            topic_configs=configs,
        )
        for name in (EVENTS_TOPIC, DEAD_LETTER_TOPIC)
    ]


async def ensure_topics(settings: Settings) -> list[str]:
    """Create missing topics; return the names created (existing ones are kept as is)."""
    admin = AIOKafkaAdminClient(
        **kafka_connection(settings), request_timeout_ms=settings.kafka_request_timeout_ms
    )
    await admin.start()
    try:
        response = await admin.create_topics(topic_specs(settings))
        created: list[str] = []
        for topic, code, *rest in response.topic_errors:
            if code == 0:
                created.append(topic)
                continue
            error = for_code(code)
            if error is TopicAlreadyExistsError:
                continue
            message = rest[0] if rest else ""
            raise TopicCreationFailed(f"creating topic {topic} failed: {error.__name__} {message}")
        return created
    finally:
        await admin.close()
