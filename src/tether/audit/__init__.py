"""The audit trail: who did what to which object, when, from where, and how it ended.

Every user action (sync, rollback, delete, login, token creation) and every write the controller
makes on its own (an automated sync, a self-heal) or drift it sees is one entry, appended and
never changed. `entries` is the record, `redaction` keeps secrets out of it, `store` is the
append-only SQLite table with its queries and export, `automation` builds the controller's
entries from an operation's result.
"""
