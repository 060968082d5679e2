"""tether: GitOps continuous delivery for Kubernetes.

Git holds the desired state; tether renders it, diffs it against live clusters with server-side
dry runs, applies it with server-side apply, and reports exactly what it did.
"""

from importlib import metadata

try:
    __version__ = metadata.version("tether")
except metadata.PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
