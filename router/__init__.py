"""router: inbound support-mail classifier and auto-router.

Data flow: fetch (mailbox) -> parse -> understand -> classify -> decide -> act -> record.
"""

__version__ = "0.1.0"
