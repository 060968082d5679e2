"""tether's HTTP API (`tether server`): the use cases of tether.service over REST, for the CLI's
`--server` mode, the web UI and automation.

- `app`: the FastAPI factory and its lifespan; `services`: what a request can reach (runtime,
  authenticator, policy, audit trail, the shared watch of Applications); `settings`.
- `access`: who is asking and may they (RBAC, with "not found" for what they cannot see);
  `audits`: one audit entry per user action; `problems`: RFC 7807 errors everywhere.
- `routes/`: one module per resource (applications, projects, clusters, repositories, audit,
  the SSE stream); `summaries`, `trees`, `kubeevents`, `credentials`: what those routes show.
- `watch`: one watch of Applications fanned out to every stream subscriber.

`tether server` (tether.cli.server) serves it; `tether app --server` (tether.cli.remote) uses it.
"""
