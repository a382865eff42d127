"""Kafka's own console consumer (``kafka-console-consumer.sh``'s class), run from
the jars scripts/kafka.sh resolved, to look at records as Kafka shows them.

The console tools live in the ``kafka-tools`` jar, which the broker does not
need: it is resolved once from Maven (with the broker's pom) into
``<cache>/kafka-<version>/tools``, beside the broker's ``libs``.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POM = ROOT / "scripts" / "kafka" / "pom.xml"
LOG4J = ROOT / "scripts" / "kafka" / "log4j2.properties"
CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"


def _kafka_dir() -> Path:
    found = re.search(r"<kafka.version>(.+?)</kafka.version>", POM.read_text())
    assert found, f"no <kafka.version> in {POM}"
    version = os.environ.get("MA_KAFKA_VERSION") or found.group(1)
    cache = os.environ.get("MA_CACHE_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "media-analysis"
    )
    return Path(cache) / f"kafka-{version}"


def tools_classpath() -> str:
    """The broker's jars and the kafka-tools jar, resolving the latter if needed."""
    kafka = _kafka_dir()
    libs, tools = kafka / "libs", kafka / "tools"
    assert libs.is_dir(), f"{libs} missing: scripts/kafka.sh installs it"
    version = kafka.name.removeprefix("kafka-")
    if not (tools / f"kafka-tools-{version}.jar").is_file():
        subprocess.run(
            [
                "mvn",
                "-B",
                "-q",
                "-f",
                str(POM),
                f"-Dkafka.version={version}",
                "dependency:copy",
                f"-Dartifact=org.apache.kafka:kafka-tools:{version}",
                f"-DoutputDirectory={tools}",
            ],
            check=True,
            timeout=600,
        )
    return f"{libs}/*:{tools}/*"


def console_consume(bootstrap: str, topic: str, partition: int, timeout_ms: int = 5000) -> str:
    """Every record of one partition from its start, as ``kafka-console-consumer
    --property print.headers=true --property print.key=true`` prints them: one line
    each, ``headers<TAB>key<TAB>value``, headers as ``name:value`` pairs joined by
    commas. Ends ``timeout_ms`` after the last record."""
    result = subprocess.run(
        [
            "java",
            "-Xmx128m",
            f"-Dlog4j2.configurationFile={LOG4J}",
            "-cp",
            tools_classpath(),
            CONSOLE_CONSUMER,
            "--bootstrap-server",
            bootstrap,
            "--topic",
            topic,
            "--partition",
            str(partition),
            "--offset",
            "earliest",
            "--timeout-ms",
            str(timeout_ms),
            "--property",
            "print.headers=true",
            "--property",
            "print.key=true",
        ],
        capture_output=True,
        text=True,
        errors="replace",  # other tests' undecodable records share the partition
        timeout=120,
        check=False,
    )
    # It exits non-zero when --timeout-ms ends it; what it printed is the answer.
    assert result.stdout or result.returncode == 0, result.stderr[-2000:]
    return result.stdout
