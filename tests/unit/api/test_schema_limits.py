"""The API's models check RFC 9003 §2 where a request body is parsed (issue 10): a
shutdown communication is at most 255 octets of UTF-8, counted in octets, refused with
one line (the server answers 422 with it)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from gracebgp.api.schema import PeerReset, PeerShutdown, StopRequest, shutdown_message_problem

MODELS: list[type[BaseModel]] = [PeerShutdown, PeerReset, StopRequest]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("message", "octets"), [("x" * 256, 256), ("\u00e9" * 128, 256), ("x" * 300, 300),
                                                 ("\u20ac" * 86, 258)])
def test_over_255_octets_is_refused_in_one_line(model: type[BaseModel], message: str, octets: int) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate_json(f'{{"message": "{message}"}}')
    errors = info.value.errors()
    assert len(errors) == 1 and errors[0]["loc"] == ("message",)
    assert errors[0]["msg"] == (f"the shutdown message is {octets} octets of UTF-8; RFC 9003 §2 allows "
                                "at most 255")


@pytest.mark.parametrize("model", MODELS)
def test_255_octets_pass(model: type[BaseModel]) -> None:
    for message in ("", "x" * 255, "\u00e9" * 127 + "x", "\u20ac" * 85):
        assert model.model_validate({"message": message}).model_dump()["message"] == message


def test_not_utf8_and_the_documented_bound() -> None:
    assert shutdown_message_problem("\udcff") == "the shutdown message is not valid UTF-8 (RFC 9003 §2)"
    assert shutdown_message_problem("\u00e9" * 127) is None
    schema = StopRequest.model_json_schema()["properties"]["message"]
    assert schema["maxLength"] == 255 and "255 octets" in schema["description"]
