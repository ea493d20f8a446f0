"""What the authentication edge asks of each way of verifying a credential."""

from __future__ import annotations

from typing import Protocol

from mcp.server.auth.provider import AccessToken


class CredentialCheckUnavailableError(RuntimeError):
    """The credential cannot be checked right now (the issuer's keys are unreachable).

    Not a verdict on the credential: the caller is asked to retry (503), and the attempt is not
    counted against its address as a failed guess, so an issuer outage never locks anyone out.
    """


class Verifier(Protocol):
    """One way of turning a presented credential into a principal."""

    def claims(self, token: str) -> bool:
        """Whether this verifier is responsible for credentials shaped like `token`."""

    async def verify_token(self, token: str) -> AccessToken | None:
        """The principal behind `token`, or None when it is not valid.

        Raises:
            CredentialCheckUnavailableError: validity cannot be decided now.
        """
