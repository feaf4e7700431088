"""Every failure the package reports, by who is speaking (like httpx and requests).

    MetronomeError                  the base: catch this to catch everything below
    ├── TransportError              the network: no answer came back (connect, timeout, drop)
    ├── MetronomeAPIError           Metronome answered with an error status (its own message)
    └── ProviderRefusal             pulumi-metronome itself refuses, before or instead of a call
        ├── ConfigurationError      malformed or missing settings (``metronome:*``, env vars)
        │   └── MissingCredentialsError
        ├── AdoptionConflict        ``adopt_existing`` cannot take over what it found
        └── OwnershipConflict       one Metronome object held by two resources

Each message starts with who is speaking ("Metronome answered ...", "the network: ...",
"pulumi-metronome refused: ..."), so a user reading ``pulumi up`` output knows whether to look
at their declaration, their token or their connection. ``status`` and ``not_found`` exist on
every error (``None`` / ``False`` when no HTTP answer is involved), so callers can test them
without first asking which kind they hold.
"""

from __future__ import annotations

#: Metronome's message is kept verbatim up to this many characters (an HTML error page from a
#: proxy or a huge body must not flood the Pulumi output).
MAX_MESSAGE_CHARS = 1000


def bounded(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


class MetronomeError(Exception):
    """Base of every error this package raises."""

    #: The HTTP status of Metronome's answer; ``None`` when there was no answer.
    status: int | None = None

    @property
    def not_found(self) -> bool:
        return self.status == 404


class TransportError(MetronomeError):
    """No usable answer came back: could not connect, timed out, or the connection dropped.

    ``attempts`` and ``seconds`` say how hard we tried; ``reason`` is the last failure.
    A write may or may not have happened; every POST carries an idempotency key, so running
    the same operation again never duplicates it.
    """

    def __init__(
        self, reason: str, *, method: str, url: str, attempts: int, seconds: float
    ) -> None:
        self.reason = reason
        self.method = method
        self.url = url
        self.attempts = attempts
        self.seconds = seconds
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        super().__init__(
            f"the network: {method} {bounded(url, 200)} got no answer from Metronome ({tries} over "
            f"{seconds:.1f} s): {reason}"
        )


class MetronomeAPIError(MetronomeError):
    """Metronome answered with an error status; ``message`` is its own text (bounded)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str,
        path: str,
        code: str | None = None,
        attempts: int = 1,
        note: str = "",
    ) -> None:
        self.message = bounded(message)
        self.status = status
        self.code = code
        self.method = method
        self.path = path
        self.attempts = attempts
        code_text = f" {code}" if code else ""
        after = f" after {attempts} attempts" if attempts > 1 else ""
        tail = f" ({note})" if note else ""
        super().__init__(
            f"Metronome answered {status}{code_text} to {method} {bounded(path, 200)}{after}: "
            f"{self.message}{tail}"
        )


class ProviderRefusal(MetronomeError):
    """pulumi-metronome refuses to go on: nothing was asked of Metronome for this step."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(f"pulumi-metronome refused: {message}")


class ConfigurationError(ProviderRefusal):
    """A setting is malformed or missing; the message names the setting. Never retried."""


class MissingCredentialsError(ConfigurationError):
    """No bearer token was given, in stack config or in the environment."""


class AdoptionConflict(ProviderRefusal):
    """``adopt_existing=True`` found something it must not take over (a namesake with
    another definition, several candidates, or one another resource already holds)."""


class OwnershipConflict(ProviderRefusal):
    """Two resources of one stack hold the same Metronome object."""


__all__ = [
    "MAX_MESSAGE_CHARS",
    "AdoptionConflict",
    "ConfigurationError",
    "MetronomeAPIError",
    "MetronomeError",
    "MissingCredentialsError",
    "OwnershipConflict",
    "ProviderRefusal",
    "TransportError",
    "bounded",
]
