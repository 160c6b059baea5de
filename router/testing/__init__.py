"""Throw-away local mail servers for the test suite, benchmarks and the demo.

Kept apart from the daemon's data flow (as Mailman keeps its testing layers):
nothing under ``router/`` outside this package imports it except the demo.
"""

from router.testing.servers import LOOPBACK, Dovecot, ReceivedMessage, SmtpSink, free_port, router_config

__all__ = ["LOOPBACK", "Dovecot", "ReceivedMessage", "SmtpSink", "free_port", "router_config"]
