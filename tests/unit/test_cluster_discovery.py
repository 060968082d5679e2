"""Aggregated discovery parsing and API error mapping (data in, data out)."""

from __future__ import annotations

from tether.cluster import errors
from tether.cluster.discovery import ResourceIndex, parse_aggregated

DISCOVERY = {
    "kind": "APIGroupDiscoveryList",
    "items": [
        {
            "metadata": {"name": "apps"},
            "versions": [
                {
                    "version": "v1",
                    "resources": [
                        {
                            "resource": "deployments",
                            "scope": "Namespaced",
                            "responseKind": {"group": "", "version": "", "kind": "Deployment"},
                            "verbs": ["get", "patch"],
                            "subresources": [{"subresource": "status"}],
                        },
                    ],
                },
            ],
        },
        {
            "metadata": {"name": "example.com"},
            "versions": [
                {
                    "version": "v2",
                    "resources": [
                        {
                            "resource": "widgets",
                            "scope": "Cluster",
                            "responseKind": {"kind": "Widget"},
                        }
                    ],
                },
                {
                    "version": "v1",
                    "resources": [
                        {
                            "resource": "widgets",
                            "scope": "Cluster",
                            "responseKind": {"kind": "Widget"},
                        },
                        {
                            "resource": "gadgets",
                            "scope": "Cluster",
                            "responseKind": {"kind": "Gadget"},
                        },
                    ],
                },
            ],
        },
    ],
}


def test_paths_follow_scope_and_group() -> None:
    index = ResourceIndex(parse_aggregated(DISCOVERY))
    deploy = index.lookup("apps/v1", "Deployment")
    assert deploy is not None
    assert deploy.object_path("web", "ns1") == "/apis/apps/v1/namespaces/ns1/deployments/web"
    assert deploy.subresources == ("status",)
    widget = index.lookup("example.com/v1", "Widget")
    assert widget is not None
    assert not widget.namespaced
    assert widget.object_path("w", "ignored") == "/apis/example.com/v1/widgets/w"


def test_preferred_version_is_the_first_and_falls_back() -> None:
    index = ResourceIndex(parse_aggregated(DISCOVERY))
    widget = index.preferred("example.com", "Widget")
    gadget = index.preferred("example.com", "Gadget")
    assert widget is not None
    assert widget.version == "v2"
    assert gadget is not None
    assert gadget.version == "v1"


def test_status_codes_map_to_error_types() -> None:
    exists = errors.from_response(409, {"reason": "AlreadyExists", "message": "m"}, "")
    assert isinstance(exists, errors.AlreadyExists)
    assert isinstance(errors.from_response(409, {"reason": "Conflict"}, ""), errors.Conflict)
    assert isinstance(errors.from_response(503, None, "busy"), errors.ServerError)
    gone = errors.from_response(410, {"message": "too old resource version"}, "")
    assert isinstance(gone, errors.Gone)
    assert gone.message == "too old resource version"
