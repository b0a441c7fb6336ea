"""Domain errors raised by service functions; one handler turns them into 4xx pages."""


class DomainError(Exception):
    """A refusal a person can understand; the first argument is the message shown.

    ``field`` names the form field the message belongs next to (``web.submit`` puts it
    there); without one the message goes at the top of the form.
    """

    status = 400
    # Raised in a job: whether running it again later may succeed (a stale plan) or not.
    retry_can_help = False

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(DomainError):
    """The input is malformed or incomplete."""

    status = 400


class NotAllowed(DomainError):
    """The person may not do this."""

    status = 403


class NotFound(DomainError):
    """The thing asked for does not exist, or the person may not know it does."""

    status = 404


class Conflict(DomainError):
    """The act contradicts the current state (a rule of the charter, a duplicate)."""

    status = 409


class SecondFactorNeeded(NotAllowed):
    """A privileged act whose session last passed a second factor too long ago: the
    handler asks for it again, keeping the act's form (it is not a refusal)."""

    status = 401


class TooManyAttempts(DomainError):
    """Attempts beyond a rate limit (second-factor codes): wait, then try again."""

    status = 429


class HandoverNeeded(Conflict):
    """R4: the person is the last tenant member of these organisations and must hand each
    over before leaving; ``organisations`` holds (name, slug) pairs, so the page refusing
    the act can offer the hand-over form of each."""

    def __init__(self, message: str, organisations: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.organisations = organisations
