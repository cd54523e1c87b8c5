"""Typed provider failures. Each message says what happened, where, and what the user can do about it."""

from __future__ import annotations


class ProviderError(Exception):
    """Base of every model-provider failure.

    ``url`` is the endpoint that was tried; ``partial_text`` is whatever part of a reply had arrived before the
    failure (empty when none did), so a caller can keep it.
    """

    def __init__(self, message: str, *, url: str = "", partial_text: str = ""):
        super().__init__(message)
        self.url = url
        self.partial_text = partial_text


class ServerUnavailable(ProviderError):
    """Nothing answers at the configured address."""


class ModelNotFound(ProviderError):
    """The server runs but does not have the model."""

    def __init__(self, message: str, *, model: str, url: str = ""):
        super().__init__(message, url=url)
        self.model = model


class ContextWindowTooSmall(ProviderError):
    """The prompt plus room for the reply does not fit the session's context window."""

    def __init__(self, message: str, *, needed: int, window: int, url: str = ""):
        super().__init__(message, url=url)
        self.needed = needed
        self.window = window


class ProviderTimeout(ProviderError):
    """The server stopped answering for longer than the configured timeout."""


class StreamInterrupted(ProviderError):
    """The reply broke off mid-stream: an error line from the server, or the connection dropped."""


class ProviderRequestError(ProviderError):
    """The server refused the request for another reason (HTTP status, malformed reply, authentication)."""

    def __init__(self, message: str, *, status_code: int | None = None, url: str = "", partial_text: str = ""):
        super().__init__(message, url=url, partial_text=partial_text)
        self.status_code = status_code


class OtherKindOfServer(ProviderError):
    """A server answers at that address, but not with this provider's protocol; ``instead`` names the provider
    (and its URL) to try, when the address suggests one."""

    def __init__(self, message: str, *, url: str, instead: tuple[str, str] | None = None):
        super().__init__(message, url=url)
        self.instead = instead
