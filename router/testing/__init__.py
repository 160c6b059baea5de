"""Throw-away local mail servers for the test suite, benchmarks and the demo.

Kept apart from the daemon's data flow (as Mailman keeps its testing layers):
nothing under ``router/`` outside this package imports it except the demo.
One module per server family: dovecot, cyrus, courier (IMAP), smtp (aiosmtpd);
procs holds the process helpers and the life cycle they share (ServerProcess;
imap.ImapServer adds the IMAP account and client helpers), postgres runs a
throw-away PostgreSQL, config writes a router config.
"""

from router.testing.config import router_config
from router.testing.dovecot import Dovecot
from router.testing.procs import LOOPBACK, free_port
from router.testing.smtp import ReceivedMessage, SmtpSink

__all__ = ["LOOPBACK", "Dovecot", "ReceivedMessage", "SmtpSink", "free_port", "router_config"]
