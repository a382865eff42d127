"""The Kafka security settings: what start-up refuses, and the same TLS/SASL
options for FastStream's broker and every plain aiokafka client."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka.security import parse_security
from pydantic import ValidationError

from infra.kafka import broker_security
from infra.kafka_security import kafka_connection
from infra.settings import Settings


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("ca")
    subprocess.run(
        [
            *(
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ),
            *("-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=ca"),
        ],
        cwd=home,
        check=True,
        capture_output=True,
    )
    return home / "ca.pem"


SASL = {
    "kafka_sasl_mechanism": "SCRAM-SHA-256",
    "kafka_sasl_username": "svc",
    "kafka_sasl_password": "s3cret",
}


def test_plaintext_is_the_default_and_adds_nothing() -> None:
    settings = Settings(kafka_bootstrap_servers="a:9092,b:9092")
    assert kafka_connection(settings) == {
        "bootstrap_servers": ["a:9092", "b:9092"],
        "security_protocol": "PLAINTEXT",
    }
    assert broker_security(settings) is None


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        (
            {"kafka_security_protocol": "SASL_SSL"},
            "needs KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME",
        ),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "PLAIN"},
            "needs KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD",
        ),
        (SASL, "need KAFKA_SECURITY_PROTOCOL=SASL_SSL or SASL_PLAINTEXT"),
        (
            {"kafka_security_protocol": "SASL_SSL", **SASL, "kafka_sasl_mechanism": "GSSAPI"},
            "PLAIN",
        ),
        ({"kafka_security_protocol": "TLS"}, "SASL_SSL"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/nonexistent/ca.pem"}, "exist"),
    ],
)
def test_incomplete_or_ignored_security_settings_stop_start_up(
    given: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        Settings(**given)


def test_tls_files_without_tls_and_a_key_without_its_certificate_are_refused(
    ca_file: Path,
) -> None:
    with pytest.raises(ValidationError, match="KAFKA_SSL_CAFILE need KAFKA_SECURITY_PROTOCOL"):
        Settings(kafka_ssl_cafile=ca_file)
    with pytest.raises(ValidationError, match="KAFKA_SSL_KEYFILE needs KAFKA_SSL_CERTFILE"):
        Settings(kafka_security_protocol="SSL", kafka_ssl_keyfile=ca_file)


def test_the_password_is_a_secret() -> None:
    settings = Settings(kafka_security_protocol="SASL_PLAINTEXT", **SASL)
    assert "s3cret" not in repr(settings)
    assert kafka_connection(settings)["sasl_plain_password"] == "s3cret"


def _comparable(options: dict[str, Any]) -> dict[str, Any]:
    context = options.pop("ssl_context", None)
    options["verifies"] = None if context is None else context.verify_mode == ssl.CERT_REQUIRED
    return options


@pytest.mark.parametrize("protocol", ["SSL", "SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_the_broker_and_the_plain_clients_connect_alike(
    protocol: str, mechanism: str, ca_file: Path
) -> None:
    given: dict[str, Any] = {"kafka_security_protocol": protocol}
    if protocol.startswith("SASL_"):
        given |= {**SASL, "kafka_sasl_mechanism": mechanism}
    if protocol.endswith("SSL"):
        given["kafka_ssl_cafile"] = ca_file
    settings = Settings(**given)
    plain = kafka_connection(settings)
    assert plain.pop("bootstrap_servers") == settings.kafka_bootstrap_list
    assert _comparable(parse_security(broker_security(settings))) == _comparable(plain)
    assert plain["security_protocol"] == protocol
    assert plain["verifies"] is (True if protocol.endswith("SSL") else None)
