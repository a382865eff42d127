"""Kafka as managed clusters run it: TLS and SASL/SCRAM. A broker of its own
(scripts/kafka.sh) with a SASL_SSL listener, a certificate authority and a broker
certificate made by openssl here, and a SCRAM user created by kafka-storage when
its storage is formatted. The services, configured only with that listener and
the security settings, take an analysis from POST to the projected status; a
client with a wrong password is refused, saying why."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from events import DEAD_LETTER_TOPIC, EVENTS_TOPIC
from infra import migrations
from infra.settings import Settings
from infra.topic_admin import ensure_topics
from tests.conftest import (
    BIN,
    ROOT,
    MediaServer,
    Service,
    analyse_clip,
    free_port,
    scratch_database,
    wait_ready,
)

pytestmark = pytest.mark.stack

USER, PASSWORD = "media-analysis", f"secret-{uuid4().hex[:12]}"
MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class SecuredKafka:
    bootstrap: str
    cafile: Path


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_certificates(into: Path) -> tuple[Path, Path]:
    """A CA, and a broker certificate for 127.0.0.1 signed by it: (ca.pem, broker.pem
    holding the broker's key and certificate, the PEM keystore Kafka reads)."""
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
            "-subj", "/CN=media-analysis test CA", cwd=into)  # fmt: skip
    openssl("req", *ec, "-keyout", "broker.key", "-out", "broker.csr",
            "-subj", "/CN=127.0.0.1", cwd=into)  # fmt: skip
    (into / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "broker.crt", "-days", "1", "-extfile", "san.ext",
            cwd=into)  # fmt: skip
    keystore = into / "broker.pem"
    keystore.write_text((into / "broker.key").read_text() + (into / "broker.crt").read_text())
    return into / "ca.pem", keystore


@pytest.fixture(scope="module")
def secured_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredKafka]:
    home = tmp_path_factory.mktemp("secured-kafka")
    cafile, keystore = make_certificates(home)
    jaas = home / "jaas.conf"
    jaas.write_text(
        "KafkaServer {\n  org.apache.kafka.common.security.scram.ScramLoginModule required;\n};\n"
    )
    plain, controller, secured = free_port(), free_port(), free_port()
    properties = {
        # PLAINTEXT stays for the broker's own traffic; the services get only SASL_SSL.
        "listeners": f"PLAINTEXT://127.0.0.1:{plain},CONTROLLER://127.0.0.1:{controller},"
        f"SASL_SSL://127.0.0.1:{secured}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{plain},SASL_SSL://127.0.0.1:{secured}",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,"
        "SASL_SSL:SASL_SSL",
        "sasl.enabled.mechanisms": MECHANISM,
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(keystore),
    }
    env = {
        **os.environ,
        "MA_STATE_DIR": str(home / "state"),
        "MA_KAFKA_PORT": str(plain),
        "MA_KAFKA_CONTROLLER_PORT": str(controller),
        "MA_KAFKA_HEAP": "256m",
        "MA_KAFKA_PROPERTIES": " ".join(f"{k}={v}" for k, v in properties.items()),
        "MA_KAFKA_JVM_OPTIONS": f"-Djava.security.auth.login.config={jaas}",
        "MA_KAFKA_SCRAM_USERS": f"{MECHANISM}=[name={USER},password={PASSWORD}]",
    }
    kafka = str(ROOT / "scripts" / "kafka.sh")
    subprocess.run([kafka, "start"], env=env, check=True, timeout=180)
    try:
        yield SecuredKafka(f"127.0.0.1:{secured}", cafile)
    finally:
        subprocess.run([kafka, "stop"], env=env, check=True, timeout=120)


@pytest.fixture(scope="module")
def own_database(infra_env: dict[str, str]) -> Iterator[str]:
    """A database of its own: the projection positions belong to the other broker's log."""
    with scratch_database(infra_env["DATABASE_URL"], "secured") as url:
        yield url


@pytest.fixture(scope="module")
def secured_env(
    service_env: dict[str, str], secured_kafka: SecuredKafka, own_database: str
) -> dict[str, str]:
    return {
        **service_env,
        "API_PORT": str(free_port()),
        "DATABASE_URL": own_database,
        "KAFKA_BOOTSTRAP_SERVERS": secured_kafka.bootstrap,
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": MECHANISM,
        "KAFKA_SASL_USERNAME": USER,
        "KAFKA_SASL_PASSWORD": PASSWORD,
        "KAFKA_SSL_CAFILE": str(secured_kafka.cafile),
    }


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "media-analysis"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_analysis_is_produced_processed_and_projected_over_sasl_ssl(
    secured_env: dict[str, str], media_server: MediaServer
) -> None:
    # In this process (two fewer interpreter start-ups): the schema, and the topics
    # through the admin client over SASL_SSL.
    kafka = {k.lower(): v for k, v in secured_env.items() if k.startswith("KAFKA_")}
    settings = Settings(database_url=secured_env["DATABASE_URL"], **kafka)
    migrations.upgrade(settings)
    assert set(asyncio.run(ensure_topics(settings))) == {EVENTS_TOPIC, DEAD_LETTER_TOPIC}
    # One process runs every client: the command side's producer, the processor's
    # and projector's consumers and producers, the admin and end-offset readers.
    service = Service("secured-all", "all", secured_env)
    try:
        base_url = f"http://127.0.0.1:{secured_env['API_PORT']}"
        wait_ready([service], base_url, timeout=90)
        with httpx.Client(base_url=base_url, timeout=30) as client:
            analysis_id, status = analyse_clip(client, media_server.url("clip.mp4"))
            # Readiness and the projector's lag, over SASL_SSL too.
            operations = client.get("/api/operations").json()
        assert status["status"] == "completed", status["error_message"]
        assert status["results"]["probe"]["duration"] == pytest.approx(3.0, abs=0.2)
        assert operations["ready"], operations
        assert operations["projector_lag_error"] is None, operations
    finally:
        service.stop()

    # Another team's subscriber, with the same settings as its options.
    followed = subprocess.run(
        [
            *(sys.executable, str(ROOT / "examples" / "subscriber.py")),
            *("--bootstrap", secured_env["KAFKA_BOOTSTRAP_SERVERS"], "--analysis", analysis_id),
            *("--security-protocol", "SASL_SSL", "--sasl-mechanism", MECHANISM),
            *("--sasl-username", USER, "--ssl-cafile", secured_env["KAFKA_SSL_CAFILE"]),
            *("--seconds", "60"),
        ],
        env=secured_env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert followed.returncode == 0, followed.stderr
    types = [json.loads(line)["type"].rsplit(".", 1)[-1] for line in followed.stdout.splitlines()]
    assert types[0] == "requested", types
    assert types[-1] == "completed", types


def test_a_wrong_password_is_refused_saying_why(secured_env: dict[str, str]) -> None:
    refused = cli({**secured_env, "KAFKA_SASL_PASSWORD": "not-the-password"}, "create-topics")
    assert refused.returncode != 0
    assert "SaslAuthenticationFailed" in refused.stderr, refused.stderr
    assert f"invalid credentials with SASL mechanism {MECHANISM}" in refused.stderr
    assert "not-the-password" not in refused.stderr + refused.stdout
