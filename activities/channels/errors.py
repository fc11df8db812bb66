"""What SMS and e-mail providers' refusals mean here."""

from __future__ import annotations

from activities.providers import MessageRejectedError


class ProviderAuthError(MessageRejectedError):
    """The provider refused our credentials: permanent for this message, and a
    configuration error for the install (``journeys check-providers`` names the variables)."""

    def __init__(self, provider: str, code: str, variables: tuple[str, ...]) -> None:
        super().__init__(
            f"{provider} refused the credentials ({code}); check {', '.join(variables)}"
        )
        self.provider = provider
        self.code = code
        self.variables = variables


class ProviderCheckError(RuntimeError):
    """``check()`` of a provider failed: the message names the variable to fix when known."""
