"""The per-turn hooks' stdlib input checks accept exactly what the pydantic event models accept."""

from __future__ import annotations

import types
import typing
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from session_state.hooks import events, inputs

# each stdlib check, its typed dict and the model it stands in for
PAIRS = [
    (inputs.common, inputs.HookInput, events.HookInput),
    (inputs.stop, inputs.StopInput, events.Stop),
    (inputs.user_prompt_submit, inputs.UserPromptSubmitInput, events.UserPromptSubmit),
    (inputs.session_end, inputs.SessionEndInput, events.SessionEnd),
]

values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def payloads(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly-usable common fields (so the event's own fields get exercised) plus anything."""
    required = st.one_of(st.text(min_size=1, max_size=12), values)
    common = st.fixed_dictionaries(
        {"session_id": required, "hook_event_name": required},
        optional={"transcript_path": values, "cwd": values, "context_window": values},
    )
    own = st.dictionaries(st.sampled_from(fields), values, max_size=len(fields))
    return st.tuples(common, own).map(lambda pair: {**pair[0], **pair[1], "extra_unknown_field": 1})


def _agree(check, model, payload: dict[str, Any]) -> None:
    """Both accept or both refuse; when both accept, the typed dict holds the model's values
    (a null `stop_hook_active`, which the model keeps as None, is False in the typed dict)."""
    try:
        typed = check(payload)
    except inputs.InputError:
        typed = None
    try:
        validated = model.model_validate(payload)
    except ValidationError:
        validated = None
    assert (typed is None) == (validated is None), payload
    if typed is not None:
        for field, value in typed.items():
            expected = getattr(validated, field)
            assert value == (bool(expected) if field == "stop_hook_active" else expected), (field, payload)


def _plain(annotation: Any) -> set[Any]:
    """The types an annotation admits, without None, pydantic's Annotated metadata or Any/object."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _plain(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return set().union(*(_plain(arg) for arg in typing.get_args(annotation)))
    if annotation in (Any, object):
        return {object}
    return set() if annotation is type(None) else {annotation}


def test_each_typed_dict_declares_its_models_fields_and_types() -> None:
    for _, typed, model in PAIRS:
        hints = typing.get_type_hints(typed)
        assert set(hints) == set(model.model_fields), (typed.__name__, set(hints) ^ set(model.model_fields))
        for name, annotation in hints.items():
            assert _plain(annotation) == _plain(model.model_fields[name].annotation), (typed.__name__, name)


@settings(max_examples=400, deadline=None)
@given(payloads(["stop_hook_active", "last_assistant_message"]))
def test_stop(payload: dict[str, Any]) -> None:
    _agree(inputs.stop, events.Stop, payload)


@settings(max_examples=400, deadline=None)
@given(payloads(["prompt", "prompt_id", "permission_mode"]))
def test_user_prompt_submit(payload: dict[str, Any]) -> None:
    _agree(inputs.user_prompt_submit, events.UserPromptSubmit, payload)


@settings(max_examples=400, deadline=None)
@given(payloads(["reason"]))
def test_session_end(payload: dict[str, Any]) -> None:
    _agree(inputs.session_end, events.SessionEnd, payload)


def test_errors_name_field_value_and_what_is_accepted() -> None:
    try:
        inputs.stop({"session_id": "s", "hook_event_name": "Stop", "stop_hook_active": "yes"})
    except inputs.InputError as exc:
        assert str(exc) == "field 'stop_hook_active' is 'yes'; true or false is accepted"
    else:
        raise AssertionError("accepted a string for a boolean")
