"""Pure policy: what an Application's Project permits, as data in and explanations out.

A Project (`projects.tether.dev`) fences a tenant in: which repositories it may deploy from,
which clusters and namespaces it may deploy to, which kinds it may create, when it may sync, and
which service account its writes run as. This package parses a Project's spec into frozen values
and answers questions about it (`violations.check`, `windows.window_verdict`,
`accounts.service_account_for`) without any I/O, so every rule is tested with plain data and a
fake clock; `tether.reconcile.admission` reads Projects from the cluster and enforces the answers.
"""
