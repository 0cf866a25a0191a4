import json
import logging

import pytest

from provisio_common.auth import TokenVerifier, mint_token
from provisio_common.logging import JsonFormatter, bind_event_id, request_id_var
from provisio_common.problems import Problem
from provisio_common.settings import ProvisioSettings


def test_json_log_lines_carry_request_and_event_ids() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    record.deal = "generic:D-1"
    token = request_id_var.set("req-1")
    try:
        with bind_event_id("evt-1"):
            line = json.loads(JsonFormatter("svc").format(record))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "hello you" and line["service"] == "svc"
    assert (line["request_id"], line["event_id"], line["deal"]) == ("req-1", "evt-1", "generic:D-1")


def test_minted_token_verifies_with_its_role_and_a_forged_one_does_not() -> None:
    settings = ProvisioSettings(jwt_secret="a-test-secret-that-is-long-enough-for-hs256")
    principal = TokenVerifier(settings).verify(mint_token(settings, "rep-1", "rep"))
    assert (principal.sub, principal.role) == ("rep-1", "rep")
    forged = mint_token(
        ProvisioSettings(jwt_secret="another-secret-that-is-long-enough-for-hs256"), "rep-1", "admin"
    )
    with pytest.raises(Problem) as info:
        TokenVerifier(settings).verify(forged)
    assert info.value.status == 401


def test_production_refuses_the_local_default_secret() -> None:
    with pytest.raises(ValueError, match="PROVISIO_JWT_SECRET"):
        ProvisioSettings(environment="production")
