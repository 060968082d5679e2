"""tether's CustomResourceDefinitions, shipped as package data so an installed tether has them.

The YAML files here are the single source for the API schema: the CLI installs them, the install
manifests under deploy/ are generated from them, and `model.app` parses the same field names.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

GROUP = "tether.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
FILES = ("applications.yaml", "projects.yaml")


def load_all() -> list[dict[str, Any]]:
    """Every CRD manifest tether owns, parsed."""
    docs: list[dict[str, Any]] = []
    for name in FILES:
        text = resources.files(__package__).joinpath(name).read_text()
        docs.extend(d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d)
    return docs
