"""Domain errors raised by service functions; one handler turns them into 4xx pages."""


class DomainError(Exception):
    """A refusal a person can understand; the first argument is the message shown."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
