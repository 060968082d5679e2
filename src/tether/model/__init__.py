"""Pure value types shared by every layer: resource keys, manifests, revisions, statuses.

Nothing here performs I/O; an import-linter contract keeps it that way.
"""
