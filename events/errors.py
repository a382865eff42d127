"""The project's exception tree.

Every error the project raises on purpose derives from one root, so callers can
catch the project's failures without catching programming errors::

    MediaAnalysisError
    ├── EventDecodeError          a Kafka record is not a readable event
    │   ├── MissingAttribute      a required CloudEvents attribute is absent
    │   ├── UnknownEventType      ce_type names no event this version knows
    │   └── UnsupportedVersion    the schema version is newer than this code
    └── (service errors, defined beside the services that raise them)
"""

from __future__ import annotations


class MediaAnalysisError(Exception):
    """Root of every error the project raises on purpose."""


class EventDecodeError(MediaAnalysisError):
    """A Kafka record could not be turned into an event; it belongs in the DLQ."""

    reason = "undecodable"


class MissingAttribute(EventDecodeError):
    reason = "missing-attribute"


class UnknownEventType(EventDecodeError):
    reason = "unknown-type"


class UnsupportedVersion(EventDecodeError):
    reason = "unsupported-version"
