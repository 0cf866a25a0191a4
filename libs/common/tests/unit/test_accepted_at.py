"""`accepted_at`: an optional envelope field (the webhook acceptance time an event descends
from), stamped through the route, and visible to the handler applying the event."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiokafka.structs import ConsumerRecord

from provisio_common.events import Envelope, QuotaRecord, Schema
from provisio_common.inbox import InboxConsumer, applying
from provisio_common.routes import Route, outgoing
from provisio_common.testing.fakes import FakeStore, FakeUnitOfWork
from provisio_common.topics import QUOTAS
from provisio_common.uow import UnitOfWork

ACCEPTED = datetime(2027, 2, 3, 10, 15, 0, 123456, tzinfo=UTC)


def quota() -> QuotaRecord:
    return QuotaRecord.model_validate({"payee": "ann", "period": "2027-Q1", "amount": "1000"})


def test_an_envelope_without_a_stamp_has_no_accepted_at_key() -> None:
    env = outgoing(quota(), "svc").envelope
    assert env.accepted_at is None
    assert "accepted_at" not in json.loads(env.to_bytes())


def test_a_stamped_envelope_carries_it_and_reads_back_the_same_instant() -> None:
    env = outgoing(quota(), "svc", ACCEPTED).envelope
    raw = json.loads(env.to_bytes())
    assert raw["accepted_at"] == "2027-02-03T10:15:00.123456Z"
    assert Envelope.from_bytes(env.to_bytes()).accepted_at == ACCEPTED


def test_envelopes_from_before_the_field_still_read() -> None:
    old = (
        b'{"id":"e1","type":"quota","source":"s","time":"2027-02-03T10:15:00Z",'
        b'"subject":"x","schema":1,"data":{}}'
    )
    assert Envelope.from_bytes(old).accepted_at is None


class Seen:
    def __init__(self) -> None:
        self.envelopes: list[Envelope | None] = []


class NoDlq:
    async def send_and_wait(self, topic: str, value: bytes, **kwargs: Any) -> None:
        raise AssertionError("nothing is dead-lettered here")


async def test_a_handler_sees_the_envelope_it_applies_and_nothing_outside_one() -> None:
    store: FakeStore[Seen] = FakeStore(Seen())

    async def handle(uow: UnitOfWork[Seen], payload: Schema) -> None:
        uow.repos.envelopes.append(applying())

    routes: dict[type[Schema], Route] = {QuotaRecord: Route("quota", QUOTAS, lambda r: "k", lambda r: "k")}
    consumer = InboxConsumer(
        service="test",
        name="c",
        handlers={QuotaRecord: handle},
        uow=lambda: FakeUnitOfWork(store),
        consumer=None,
        producer=NoDlq(),
        routes=routes,
    )
    stamped = outgoing(quota(), "svc", ACCEPTED).envelope
    plain = outgoing(quota(), "svc").envelope
    for offset, env in enumerate((stamped, plain)):
        raw = env.to_bytes()
        await consumer.process(ConsumerRecord(QUOTAS.name, 0, offset, 0, 0, b"k", raw, None, 1, len(raw), []))
    seen = store.repos.envelopes
    assert [e.id if e else None for e in seen] == [stamped.id, plain.id]
    assert [e.accepted_at if e else None for e in seen] == [ACCEPTED, None]
    assert applying() is None
