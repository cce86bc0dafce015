"""Errors the domain raises, with messages a person can read (Norwegian Bokmål)."""


class DomainError(Exception):
    """A request the rules do not allow; the message is shown to the person as it is."""


class RegistrationClosed(DomainError):
    """The gathering does not take registrations now."""
