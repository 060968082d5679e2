"""Authentication for tether's HTTP API and web UI: who is making this request?

The answer is a `tether.model.principals.Principal`, found from (in this order) a bearer API
token, a browser session cookie, or nothing (ANONYMOUS). Authorization (tether.authz) decides
what that principal may do; this package only establishes identity.

- `users`, `passwords`, `lockout`: local accounts in the Secret `tether-users` (argon2id), with
  login throttling whose state survives restarts.
- `oidc`: single sign-on through an OpenID Connect provider (authorization code + PKCE).
- `keys`, `tokens`, `projecttokens`: JWT API tokens scoped to a project role, revocable.
- `sessions`, `csrf`: server-side browser sessions and the CSRF check they require.
- `authenticator`, `routes`, `problems`: the FastAPI seam the API server mounts.
- `state`: the small SQLite database holding throttling, sessions, flows and token records.
"""
