"""The only package that talks to Kubernetes.

A thin async client over httpx (HTTP/2, bounded concurrency, retries with backoff) that works on
raw dict bodies, plus discovery, watch and server-side apply. Kubeconfig parsing and TLS set-up
come from lightkube; the request path is ours so watch bookmarks, impersonation headers and
dict-only list/watch stay cheap on the hot path.
"""
