"""The per-turn hooks' stdlib input checks accept exactly what the pydantic event models accept."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from session_state.hooks import events, inputs
from session_state.hooks import session_end

values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def payloads(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Mostly-usable common fields (so the event's own fields get exercised) plus anything."""
    required = st.one_of(st.text(min_size=1, max_size=12), values)
    common = st.fixed_dictionaries(
        {"session_id": required, "hook_event_name": required},
        optional={"transcript_path": values, "cwd": values},
    )
    own = st.dictionaries(st.sampled_from(fields), values, max_size=len(fields))
    return st.tuples(common, own).map(lambda pair: {**pair[0], **pair[1], "extra_unknown_field": 1})


def _agree(check, model, payload: dict[str, Any]) -> None:
    try:
        check(payload)
        fast_ok = True
    except inputs.InputError:
        fast_ok = False
    try:
        model.model_validate(payload)
        model_ok = True
    except ValidationError:
        model_ok = False
    assert fast_ok == model_ok, payload


@settings(max_examples=400, deadline=None)
@given(payloads(["stop_hook_active", "last_assistant_message"]))
def test_stop(payload: dict[str, Any]) -> None:
    _agree(inputs.stop, events.Stop, payload)


@settings(max_examples=400, deadline=None)
@given(payloads(["prompt", "prompt_id"]))
def test_user_prompt_submit(payload: dict[str, Any]) -> None:
    _agree(inputs.user_prompt_submit, events.UserPromptSubmit, payload)


@settings(max_examples=400, deadline=None)
@given(payloads(["reason"]))
def test_session_end(payload: dict[str, Any]) -> None:
    _agree(session_end.validate, events.SessionEnd, payload)


def test_errors_name_field_value_and_what_is_accepted() -> None:
    try:
        inputs.stop({"session_id": "s", "hook_event_name": "Stop", "stop_hook_active": "yes"})
    except inputs.InputError as exc:
        assert str(exc) == "field 'stop_hook_active' is 'yes'; true or false is accepted"
    else:
        raise AssertionError("accepted a string for a boolean")
