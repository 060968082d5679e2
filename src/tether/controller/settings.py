"""tether's runtime configuration, from the ConfigMap `tether-config`, followed while it runs.

When tether is installed from Git, its own configuration is in Git as well: the root app applies
the ConfigMap, and the controller reads it at start and watches it, so a reviewed commit changes
the running configuration without a restart. Keys (all optional):

- `resync.seconds`: the periodic resync of every app (a positive number); replaces
  `--resync-seconds`. Applies from each app's next requeue; a change requeues every app at once.
- `observe.only`: `"true"` makes every app observe-only. It is OR-ed with `--observe-only`: Git can
  make a controller more careful than its command line, never less.
- `health.rules`: a YAML list of custom health rules (see tether.engine.health.rules); replaces
  `--health-rules`. A change re-assesses every app's health at once.

An absent key, or an absent ConfigMap, means the command line's value. A ConfigMap with a bad
value (not a number, a rule that does not compile) is refused as a whole and logged: the last
good configuration stays, because half of a reviewed change is a change nobody reviewed. Keys
this module does not know are left alone (other components keep settings in the same ConfigMap).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import structlog
import yaml

from tether.cluster import errors
from tether.cluster.client import KubeClient
from tether.controller.reflector import Key, Reflector
from tether.engine import health
from tether.model.resources import Body

log = structlog.get_logger(__name__)
CONFIG_MAP = "tether-config"
RESYNC = "resync.seconds"
OBSERVE_ONLY = "observe.only"
HEALTH_RULES = "health.rules"
KEYS = (RESYNC, OBSERVE_ONLY, HEALTH_RULES)


class ConfigError(ValueError):
    """A configuration that cannot be applied, worded for the log."""


@dataclass(frozen=True, kw_only=True)
class RuntimeConfig:
    """What can change while the controller runs."""

    resync_seconds: float = 180.0
    observe_only: bool = False
    health_rules: health.HealthRules | None = None
    source: str = "command line"  # where it came from, for the log: "ConfigMap tether/x@rv"


def parse(data: Mapping[str, str], defaults: RuntimeConfig, source: str) -> RuntimeConfig:
    """The configuration `data` (a ConfigMap's) describes over `defaults`; ConfigError if bad."""
    config = replace(defaults, source=source)
    if RESYNC in data:
        config = replace(config, resync_seconds=_seconds(data[RESYNC]))
    if OBSERVE_ONLY in data:
        config = replace(config, observe_only=defaults.observe_only or _flag(data[OBSERVE_ONLY]))
    if HEALTH_RULES in data:
        config = replace(config, health_rules=_rules(data[HEALTH_RULES]))
    return config


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{RESYNC}: {text!r} is not a number of seconds") from None
    if not value > 0:
        raise ConfigError(f"{RESYNC}: must be positive, not {text!r}")
    return value


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise ConfigError(f"{OBSERVE_ONLY}: expected true or false, not {text!r}")
    return value == "true"


def _rules(text: str) -> health.HealthRules:
    try:
        data = yaml.safe_load(text) or []
    except yaml.YAMLError as exc:
        raise ConfigError(f"{HEALTH_RULES}: not YAML: {exc}") from None
    if not isinstance(data, list):
        raise ConfigError(f"{HEALTH_RULES}: must be a YAML list of rules")
    try:
        rules = health.HealthRules.from_config(data)
    except ValueError as exc:
        raise ConfigError(f"{HEALTH_RULES}: {exc}") from None
    if rules.errors:  # a rule that cannot compile would report Unknown for every object it sees
        raise ConfigError(f"{HEALTH_RULES}: {rules.errors[0]}")
    return rules


OnChange = Callable[[RuntimeConfig], None]


class ConfigWatch:
    """Follows one ConfigMap and calls `on_change` with every new configuration that is valid.

    Its ConfigMaps are listed and watched in tether's namespace only (RBAC: get, list, watch on
    configmaps there); the name is filtered here because a watch cannot select by name alone."""

    def __init__(
        self,
        kube: KubeClient,
        namespace: str,
        defaults: RuntimeConfig,
        on_change: OnChange,
        name: str = CONFIG_MAP,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.defaults = defaults
        self.on_change = on_change
        self.current = defaults
        self._reflector: Reflector | None = None

    async def start(self, timeout: float = 60.0) -> RuntimeConfig:
        """Read the ConfigMap and begin to follow it; the configuration in force when it returns.
        Without a name, or without the right to read ConfigMaps, the command line rules."""
        if not self.name or not await self._readable():
            return self.current
        self._reflector = Reflector(
            self.kube, "v1", "ConfigMap", namespace=self.namespace, on_event=self._event
        )
        self._reflector.start()
        await self._reflector.wait_synced(timeout)
        return self.current

    async def _readable(self) -> bool:
        try:
            await self.kube.get_or_none("v1", "ConfigMap", self.name, self.namespace)
        except errors.Forbidden as exc:
            log.warning("cannot read the configuration; using the command line's", error=str(exc))
            return False
        return True

    def _event(self, key: Key, _old: Body | None, new: Body | None) -> None:
        if key != (self.namespace, self.name):
            return
        try:
            config = self._config_of(new)
        except ConfigError as exc:
            where = f"{self.namespace}/{self.name}"
            log.error(
                "configuration refused; the last good one stays", configmap=where, error=str(exc)
            )
            return
        self._apply(config)

    def _config_of(self, body: Body | None) -> RuntimeConfig:
        if body is None:
            return self.defaults  # deleted: back to the command line's values
        version = (body.get("metadata") or {}).get("resourceVersion", "")
        source = f"ConfigMap {self.namespace}/{self.name}@{version}"
        return parse(body.get("data") or {}, self.defaults, source)

    def _apply(self, config: RuntimeConfig) -> None:
        if _effective(config) == _effective(self.current):
            return
        self.current = config
        log.info(
            "configuration applied",
            source=config.source,
            resync_seconds=config.resync_seconds,
            observe_only=config.observe_only,
            health_rules=[r.name for r in config.health_rules or ()],
        )
        self.on_change(config)

    async def aclose(self) -> None:
        if self._reflector is not None:
            await self._reflector.aclose()


def _effective(config: RuntimeConfig) -> tuple[object, ...]:
    """What a configuration does, whatever its source: an unrelated key edit changes nothing."""
    return (config.resync_seconds, config.observe_only, config.health_rules)
