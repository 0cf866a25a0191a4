"""What calc-engine lacks or holds differently from what its producers published."""

from __future__ import annotations

from calc_fakes import fake_uow

from calc_engine.adapters.peers import Peers
from calc_engine.domain.input_check import differences, missing_revisions
from calc_engine.service_layer.input_check import check_inputs
from provisio_common.embedded import free_port
from provisio_common.inputs import ReferenceSummary, payee_digest


def summary(**parts: dict[str, object]) -> ReferenceSummary:
    base: dict[str, dict[str, object]] = {"plans": {}, "payees": {}, "quotas": {}, "fx_rates": {}}
    return ReferenceSummary.model_validate(base | parts)


def test_a_published_revision_not_held_is_missing_and_an_extra_one_is_not() -> None:
    published = [("g:1", [1, 2, 3]), ("g:2", [1]), ("g:3", [2])]
    held = {"g:1": [1, 3], "g:3": [1, 2, 5], "g:9": [1]}
    assert missing_revisions(published, held) == {"g:1": 1, "g:2": 1}


def test_every_kind_is_compared_by_value() -> None:
    ann = {"id": "ann", "name": "Ann", "manager": "mgr"}
    truth = summary(
        plans={"ae": [1, 2], "se": [1]},
        payees={"ann": payee_digest(ann), "bob": payee_digest({"id": "bob", "name": "Bob"})},
        quotas={"ann:2027-Q1": "100000", "bob:2027-Q1": "5", "cy:2027-Q1": "7"},
        fx_rates={"2027-01-01:EUR:USD": "1.1", "2027-02-01:EUR:USD": "1.2"},
    )
    held = summary(
        plans={"ae": [1], "se": [1], "old": [1]},
        payees={
            "ann": payee_digest({**ann, "manager": None}),
            "bob": payee_digest({"name": "Bob", "id": "bob"}),
        },
        quotas={"ann:2027-Q1": "100000.00", "bob:2027-Q1": "6", "dee:2027-Q1": "1"},
        fx_rates={"2027-01-01:EUR:USD": "1.10"},
    )
    found = differences([("g:1", [1, 2])], {"g:1": [1]}, truth, held)
    assert (found.deals, found.plans, found.payees) == (["g:1"], ["ae"], ["ann"])
    # 100000 and 100000.00 are one amount; a quota held here but gone there is a difference.
    assert found.quotas == ["bob:2027-Q1", "cy:2027-Q1", "dee:2027-Q1"]
    assert found.fx_rates == ["2027-02-01:EUR:USD"]
    assert found.counts() == {"deal_revisions": 1, "plans": 1, "payees": 1, "quotas": 3, "fx_rates": 1}
    assert found.total == 7


def test_the_same_inputs_differ_in_nothing() -> None:
    truth = summary(plans={"ae": [1]}, quotas={"ann:2027-Q1": "1"})
    found = differences([("g:1", [1])], {"g:1": [1]}, truth, truth)
    assert found.total == 0 and found.deals == []


async def test_a_producer_that_cannot_be_asked_is_reported_not_raised() -> None:
    closed = free_port()  # nothing listens there
    peers = Peers(f"http://127.0.0.1:{closed}", f"http://127.0.0.1:{closed}", "Bearer x", timeout_s=5)
    checked = await check_inputs(fake_uow(), peers)
    assert (checked.checked, checked.asked_again, checked.healed) == (False, False, True)
    assert checked.reason is not None and "published-revisions" in checked.reason


async def test_without_the_producers_urls_nothing_is_checked() -> None:
    checked = await check_inputs(fake_uow(), None)
    assert not checked.checked and "PROVISIO_DEAL_INGEST_URL" in (checked.reason or "")
