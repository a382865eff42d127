"""What a read of the read model raises when PostgreSQL cannot answer."""

from __future__ import annotations

from events import MediaAnalysisError


class ReadModelUnavailable(MediaAnalysisError):
    """PostgreSQL could not answer a read of the projection (down, restarted,
    unreachable or too slow); the APIs answer 503."""
