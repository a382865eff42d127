"""Why a stage failed, as a stable code plus a human-readable message::

StageError
├── FetchError          the media could not be downloaded
│   ├── FetchRefused    the URL's address is not allowed (SSRF guard)
│   ├── FetchUnreachable  DNS, connection or TLS failure
│   ├── FetchHTTPError  the server answered with an error status
│   ├── FetchTooLarge   over MEDIA_FETCH_MAX_BYTES
│   └── FetchTimeout    over MEDIA_FETCH_TIMEOUT_SECONDS
├── MediaUndecodable    ffprobe cannot read the file as media
├── DocumentUnreadable  a document whose text cannot be extracted
├── StageOutOfMemory    a stage's child process reached STAGE_MEMORY_LIMIT_MB
└── ProviderError       a transcription or LLM provider failed
"""

from __future__ import annotations

from events import MediaAnalysisError


class StageError(MediaAnalysisError):
    code = "stage_failed"
    retryable = False


class FetchError(StageError):
    code = "fetch_failed"


class FetchRefused(FetchError):
    code = "fetch_refused"


class FetchUnreachable(FetchError):
    code = "fetch_unreachable"
    retryable = True


class FetchHTTPError(FetchError):
    code = "fetch_http_error"

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retryable = status_code == 429 or status_code >= 500


class FetchTooLarge(FetchError):
    code = "fetch_too_large"


class FetchTimeout(FetchError):
    code = "fetch_timeout"
    retryable = True


class MediaUndecodable(StageError):
    code = "media_undecodable"


class MediaTooLarge(StageError):
    """The media declares more pixels or a longer duration than the limits allow;
    refused before anything decodes it."""

    code = "media_too_large"


class DocumentUnreadable(StageError):
    code = "document_unreadable"


class StageOutOfMemory(StageError):
    """A stage's child process reached its memory ceiling (STAGE_MEMORY_LIMIT_MB):
    the stage fails, the processor and the API carry on."""

    code = "stage_out_of_memory"


class ProviderError(StageError):
    """A transcription or LLM provider failed; 429, 5xx and connection errors
    are retryable, other refusals are not."""

    code = "provider_failed"

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable
