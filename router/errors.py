"""Exceptions of the router.

`RouterError` and its subclasses are domain errors: the CLI turns them into a
one-line message and a non-zero exit code.
"""


class RouterError(Exception):
    """A failure a person can act on; its message is one line."""


class ConfigError(RouterError):
    """The configuration is invalid; the message names the key."""


class ModelError(RouterError):
    """A model file is missing, corrupt, or made by an incompatible version."""


class DataError(RouterError):
    """Training or evaluation data is empty or lacks the named columns."""


class MailboxError(RouterError):
    """The IMAP server could not be reached or refused an operation."""


class LoginError(MailboxError):
    """The server refused our credentials."""


class StoreUnavailable(RouterError):
    """The shared state store (PostgreSQL) cannot be reached: wait and retry, never act without it."""



class UsageError(RouterError):
    """The command was called wrongly (a missing or unknown option value): exit 2, as argparse does."""
