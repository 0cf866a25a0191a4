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


def test_local_and_test_runs_may_use_the_built_in_secret_and_production_its_own() -> None:
    assert ProvisioSettings(environment="local").is_local
    assert ProvisioSettings(environment="test").is_local
    own = ProvisioSettings(environment="production", jwt_secret="a-production-secret-from-the-vault-123")
    assert not own.is_local


def test_rs256_outside_local_runs_needs_a_jwks_url() -> None:
    with pytest.raises(ValueError, match="PROVISIO_JWT_JWKS_URL"):
        ProvisioSettings(environment="production", jwt_algorithm="RS256")
    ProvisioSettings(environment="production", jwt_algorithm="RS256", jwt_jwks_url="https://idp/jwks")


def test_who_may_see_a_payee_follows_the_hierarchy() -> None:
    from provisio_common.auth import Principal, ensure_may_see

    managers = {"ceo": None, "vp": "ceo", "ann": "vp", "bob": "vp", "loop1": "loop2", "loop2": "loop1"}
    ensure_may_see(Principal("vp", "manager"), "ann", managers)  # a direct report
    ensure_may_see(Principal("ceo", "manager"), "bob", managers)  # two levels down
    ensure_may_see(Principal("ann", "rep"), "ann", managers)  # oneself
    ensure_may_see(Principal("x", "payroll"), "ann", managers)
    for principal, payee in [
        (Principal("ann", "rep"), "bob"),
        (Principal("vp", "manager"), "ceo"),
        (Principal("ann", "manager"), "bob"),
        (Principal("vp", "manager"), "loop1"),
    ]:
        with pytest.raises(Problem) as info:
            ensure_may_see(principal, payee, managers)
        assert info.value.status == 403
