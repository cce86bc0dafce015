"""Mail, from the transaction that queues it to the SMTP server that accepts it.

- outbox: queue mail in the transaction that causes it; claim and mark rows (what services use)
- wakeup: tell the worker that mail was committed (NOTIFY, PRAGMA data_version), and wait for it
- delivery: one pass over the outbox, over several SMTP connections at once
- recording: the pass's database writes, which outlive a dropped connection
- transport: SMTP connections and envelope addresses (IDNA, SMTPUTF8)
- outcomes: what became of an attempt, in terms an organiser can act on
- parts: a composed mail read back as a mail program shows it (previews, the dev mailbox)

The worker loop and its periodic jobs are in klynge_rsvp/worker.py. This file imports nothing,
so a service that queues mail loads the outbox and not the delivery machinery.
"""
