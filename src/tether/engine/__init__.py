"""The pure core: reconcile, diff, plan, sync, health.

Everything here takes data and returns data. Git, render subprocesses and the cluster are reached
only through the layers that call into this package; an import-linter contract enforces that.
"""
