"""The hot tier's settings (core/settings.py) and the config model (state/config.py) declare
the same keys, types and defaults: the model takes its defaults from `settings.DEFAULTS`, and
this test catches a key or type added to one and not the other."""

from __future__ import annotations

import typing

from session_state.core import settings
from session_state.state import config


def test_every_default_equals_the_config_models_key_by_key() -> None:
    model = config.Config().model_dump()
    assert list(model) == list(settings.DEFAULTS)
    for key, value in settings.DEFAULTS.items():
        assert model[key] == value, key
        assert type(model[key]) is type(value), key


def test_every_type_equals_the_config_models() -> None:
    hints = typing.get_type_hints(settings.Settings)
    fields = config.Config.model_fields
    assert set(hints) == set(fields)
    for key, hint in hints.items():
        if key in ("thresholds", "prices"):
            continue
        assert fields[key].annotation == hint, key
    levels = typing.get_type_hints(settings.Thresholds)
    assert levels == {name: f.annotation for name, f in config.Thresholds.model_fields.items()}
    price = config.Config.model_fields["prices"].annotation
    assert typing.get_origin(price) is dict and typing.get_origin(hints["prices"]) is dict
    assert typing.get_args(price)[0] is typing.get_args(hints["prices"])[0] is str
    rates = typing.get_args(hints["prices"])[1]
    assert typing.get_args(rates)[1] is float
    assert all(f.annotation is float for f in config.ModelPrice.model_fields.values())


def test_defaults_are_a_copy_the_caller_may_change() -> None:
    mine = settings.defaults()
    mine["redact_extra"].append("x")
    mine["thresholds"]["warning"] = 1.0
    assert settings.DEFAULTS["redact_extra"] == [] and settings.DEFAULTS["thresholds"]["warning"] == 75.0


def test_env_overrides_take_only_known_keys(monkeypatch) -> None:
    monkeypatch.setenv("SESSION_STATE_INJECT_CAP_CHARS", "4000")
    monkeypatch.setenv("SESSION_STATE_NOT_A_SETTING", "1")
    found = settings.env_overrides()
    assert found.get("SESSION_STATE_INJECT_CAP_CHARS") == "4000"
    assert "SESSION_STATE_NOT_A_SETTING" not in found
