"""The event topic is created by the project with the log kept forever."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from events import DEAD_LETTER_TOPIC, EVENTS_TOPIC


def test_topics_exist_with_infinite_retention_and_the_configured_partitions(
    prepared: dict[str, str],
) -> None:
    async def describe() -> tuple[dict[str, int], dict[str, str]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=prepared["KAFKA_BOOTSTRAP_SERVERS"])
        await admin.start()
        try:
            topics = await admin.describe_topics([EVENTS_TOPIC, DEAD_LETTER_TOPIC])
            partitions = {t["topic"]: len(t["partitions"]) for t in topics}
            configs = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, EVENTS_TOPIC)]
            )
            entries = configs[0].resources[0][4]
            return partitions, {e[0]: e[1] for e in entries}
        finally:
            await admin.close()

    partitions, config = asyncio.run(describe())
    assert partitions == {EVENTS_TOPIC: 3, DEAD_LETTER_TOPIC: 3}
    assert config["retention.ms"] == "-1"
    assert config["min.insync.replicas"] == "1"
    assert config["unclean.leader.election.enable"] == "false"
