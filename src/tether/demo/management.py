"""Setting up the management cluster: what an operator would do by hand, in order.

1. install tether's CRDs and namespace (as `tether install`);
2. register every environment's cluster as a cluster Secret (`dev` too: the example's
   Applications name their cluster, and `dev` happens to be where tether runs);
3. give tether the demo's age key (Secret `tether-sops`) for the SOPS-encrypted Secret;
4. bootstrap one root Application per environment, `root-<env>`, syncing `clusters/<env>` of the
   example repository: the child Applications there deploy to that environment's cluster.

Every step is an idempotent server-side apply, so a resumed `tether up` repeats them all and
changes nothing.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from tether.cluster import registry
from tether.cluster.client import KubeClient
from tether.secrets import keys
from tether.service import apps, bootstrap
from tether.service.runtime import Runtime, Settings, open_runtime

FIELD_MANAGER = "tether-up"
Say = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class Management:
    kubeconfig: Path  # the management cluster's admin kubeconfig
    namespace: str
    cache_dir: Path
    clusters: Mapping[str, Path]  # environment -> admin kubeconfig
    repo_url: str
    age_key: str


def root_name(environment: str) -> str:
    return f"root-{environment}"


async def prepare(setup: Management, say: Say) -> None:
    settings = Settings(
        kubeconfig=setup.kubeconfig, namespace=setup.namespace, cache_dir=setup.cache_dir
    )
    async with open_runtime(settings) as rt:
        await apps.install(rt.kube, setup.namespace)
        for name, kubeconfig in setup.clusters.items():
            await _register(rt.kube, name, kubeconfig, setup.namespace)
        await _apply(rt.kube, _age_key_secret(setup.age_key, setup.namespace))
        say(f"registered clusters {', '.join(setup.clusters)}; age key in Secret tether-sops")
        for environment in setup.clusters:
            await _bootstrap(rt, setup.repo_url, environment, say)


async def _register(kube: KubeClient, name: str, kubeconfig: Path, namespace: str) -> None:
    config = yaml.safe_load(await asyncio.to_thread(kubeconfig.read_text))
    await _apply(kube, registry.secret_for(name, config, namespace))


def _age_key_secret(key_text: str, namespace: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": keys.SECRET_NAME, "namespace": namespace},
        "type": "Opaque",
        "data": {keys.KEY_FIELD: base64.b64encode(key_text.encode()).decode()},
    }


async def _apply(kube: KubeClient, body: dict[str, object]) -> None:
    await kube.apply(body, field_manager=FIELD_MANAGER, force=True)


async def _bootstrap(rt: Runtime, repo_url: str, environment: str, say: Say) -> None:
    options = bootstrap.BootstrapOptions(
        repo_url=repo_url,
        path=f"clusters/{environment}",
        branch="main",
        name=root_name(environment),
    )
    result = await bootstrap.bootstrap(rt, options)
    say(f"root application {result.root}: {result.root_action} (clusters/{environment})")
