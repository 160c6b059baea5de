"""Actions: forward to a team, reply to the customer, file the original."""
