"""tether-config's keys over the command line's values: what is taken, what is refused."""

from __future__ import annotations

import pytest

from tether.controller import settings
from tether.engine import health

DEFAULTS = settings.RuntimeConfig(resync_seconds=180.0, observe_only=False)
RULE = "- {group: example.com, kind: Widget, degraded: \"object.spec.state == 'Failed'\"}\n"


def test_absent_keys_keep_the_command_line_values() -> None:
    config = settings.parse({"unrelated.key": "x"}, DEFAULTS, "cm")
    assert (config.resync_seconds, config.observe_only, config.health_rules) == (180.0, False, None)
    assert config.source == "cm"


def test_every_key_is_read() -> None:
    data = {"resync.seconds": "45", "observe.only": "True", "health.rules": RULE}
    config = settings.parse(data, DEFAULTS, "cm")
    assert config.resync_seconds == 45.0
    assert config.observe_only is True
    rules = config.health_rules
    assert rules is not None and rules.get("example.com", "Widget") is not None


def test_git_cannot_turn_off_the_command_lines_observe_only() -> None:
    careful = settings.RuntimeConfig(observe_only=True)
    assert settings.parse({"observe.only": "false"}, careful, "cm").observe_only is True


def test_an_empty_rule_list_replaces_the_command_lines_rules() -> None:
    started = settings.RuntimeConfig(health_rules=health.HealthRules.from_config([]))
    assert len(settings.parse({"health.rules": "[]\n"}, started, "cm").health_rules or ()) == 0


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ({"resync.seconds": "soon"}, "not a number"),
        ({"resync.seconds": "0"}, "must be positive"),
        ({"observe.only": "maybe"}, "expected true or false"),
        ({"health.rules": "{group: x"}, "not YAML"),
        ({"health.rules": "group: x\n"}, "must be a YAML list"),
        ({"health.rules": "- {kind: Widget}\n"}, "needs at least one of"),
        ({"health.rules": "- {kind: Widget, healthy: 'object.('}\n"}, "expression"),
    ],
    ids=["resync-word", "resync-zero", "flag", "yaml", "not-list", "no-expression", "no-compile"],
)
def test_bad_values_refuse_the_whole_configuration(data: dict[str, str], complaint: str) -> None:
    with pytest.raises(settings.ConfigError, match=complaint):
        settings.parse({"resync.seconds": "60", **data}, DEFAULTS, "cm")


def _event(watch: settings.ConfigWatch, data: dict[str, str] | None, version: str = "1") -> None:
    body = None
    if data is not None:
        meta = {"name": "tether-config", "namespace": "tether", "resourceVersion": version}
        body = {"metadata": meta, "data": data}
    watch._event(("tether", "tether-config"), None, body)


def test_the_watch_applies_changes_keeps_the_last_good_one_and_ignores_no_ops() -> None:
    applied: list[settings.RuntimeConfig] = []
    watch = settings.ConfigWatch(None, "tether", DEFAULTS, applied.append)  # type: ignore[arg-type]
    _event(watch, {"resync.seconds": "30"})
    _event(watch, {"resync.seconds": "30", "other": "x"}, "2")  # nothing tether uses changed
    _event(watch, {"resync.seconds": "never"}, "3")  # refused: 30 stays
    watch._event(("tether", "another-config"), None, {"metadata": {}, "data": {}})
    _event(watch, None)  # deleted: back to the command line
    assert [c.resync_seconds for c in applied] == [30.0, 180.0]
    assert watch.current == DEFAULTS
