"""Commission expense under ASC 340-40: which ledger entries are capitalized as a cost of
obtaining a contract, each one's straight-line amortization schedule, the monthly report
and the journal.

Pure: `treat` decides an entry (rule 2), `entry_schedule` lays out its schedule (rule 3),
`postings` turns schedules into what each month recognizes, `commission_expense` sums them
per month and currency (rule 4) and `journal` writes one month's lines, rounded by
differences of rounded cumulative totals (rule 5). Months are integers (`month_of`) inside
and `YYYY-MM` outside.

Equal monthly amounts at full precision: amount / T does not end in Decimal for T = 7, so
each of the first T - 1 months gets amount / T quantized to 1e-12 (half-even) and the last
month gets the rest; a schedule sums to its entry's amount exactly, and every figure stays
an exact Decimal.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import TYPE_CHECKING, Any, Literal

from payout_service.domain.errors import Unprocessable
from provisio_calc.numbers import EXACT
from provisio_calc.periods import local_day
from provisio_common.events import revision_order
from provisio_common.money import exact_sum, format_minor, round_money

if TYPE_CHECKING:  # statements -> plans -> accounting: the entry type only
    from payout_service.domain.statements import LedgerEntry

ZERO = Decimal(0)
QUANTUM = Decimal("1e-12")
EXPEDIENT_MONTHS = 12
MAX_RANGE_MONTHS = 1200

Kind = Literal["capitalized", "amortization", "expensed"]
KINDS: tuple[Kind, ...] = ("capitalized", "amortization", "expensed")
AccountName = Literal["deferred_commissions", "commissions_payable", "commission_expense"]
# Each kind's debit and credit account (a negative amount swaps them).
SIDES: dict[Kind, tuple[AccountName, AccountName]] = {
    "capitalized": ("deferred_commissions", "commissions_payable"),
    "amortization": ("commission_expense", "deferred_commissions"),
    "expensed": ("commission_expense", "commissions_payable"),
}

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_of(day: date) -> int:
    """The month containing `day`, as a number that counts months (consecutive months differ by 1)."""
    return day.year * 12 + day.month - 1


def month_text(month: int) -> str:
    """`YYYY-MM` of a month number."""
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def parse_month(text: str, field: str) -> int:
    """The month number of `YYYY-MM`; Unprocessable naming `field` for anything else."""
    match = _MONTH.match(text)
    if match is None or int(match.group(1)) < 1:
        raise Unprocessable(field, f"must be a month YYYY-MM (2027-05), got {text!r}")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def month_range(first_text: str, last_text: str) -> tuple[int, int]:
    """`from` and `to` of a report: months, `from` not after `to`, at most 1200 months."""
    first = parse_month(first_text, "from")
    last = parse_month(last_text, "to")
    if first > last:
        raise Unprocessable("from", f"{first_text} is after to ({last_text})")
    if last - first >= MAX_RANGE_MONTHS:
        raise Unprocessable("to", f"a report covers at most {MAX_RANGE_MONTHS} months")
    return first, last


@dataclass(frozen=True)
class AccountingPolicy:
    """A plan version's `accounting` section, defaults applied: the component ids whose
    entries are capitalized, the term of a deal without `contract_months`, and whether a
    term of 12 months or less is expensed (the practical expedient). `timezone` is the
    plan's: a close date that is a timestamp starts its schedule on that local day."""

    capitalize: frozenset[str]
    default_term_months: int | None = None
    practical_expedient: bool = True
    timezone: str = "UTC"


@dataclass(frozen=True)
class DealTerms:
    """A deal's contract terms from its latest snapshot in history (`deals.v1`): term,
    start, close date. `changed_at` and `content` place the snapshot in the deal's
    history (`provisio_common.events.revision_order`), so any arrival order keeps the latest."""

    deal: str
    contract_months: int | None
    contract_start: date | None
    close_date: date | datetime | None
    changed_at: datetime
    content: str

    @classmethod
    def of(cls, deal: str, document: Mapping[str, Any]) -> DealTerms:
        """The terms of one `deals.v1` snapshot (its `to_data()` document)."""
        changed_at, content = revision_order(document)
        months = document.get("contract_months")
        start = document.get("contract_start")
        close = document.get("close_date")
        return cls(
            deal=deal,
            contract_months=int(months) if months is not None else None,
            contract_start=date.fromisoformat(start) if isinstance(start, str) else start,
            close_date=_when(close),
            changed_at=changed_at,
            content=content,
        )

    @property
    def order(self) -> tuple[datetime, str]:
        """Where the snapshot sits in its deal's history (later is greater)."""
        return self.changed_at.astimezone(UTC), self.content


def _when(value: object) -> date | datetime | None:
    if value is None or isinstance(value, date):
        return value
    text = str(value)
    return date.fromisoformat(text) if len(text) <= 10 else datetime.fromisoformat(text)


@dataclass(frozen=True)
class Treatment:
    """Rule 2 for one entry: capitalized (with its term and first schedule month) or
    expensed in the month of its date; `reason` says why, in words."""

    capitalized: bool
    reason: str
    term_months: int | None = None
    start: int | None = None


def treat(entry: LedgerEntry, policy: AccountingPolicy | None, terms: DealTerms | None) -> Treatment:
    """Capitalized when the entry's component is capitalized, it has a deal, and the deal's
    term (its `contract_months`, else the plan's `default_term_months`) exceeds 12 months
    (1 month or more without the practical expedient); otherwise expensed."""
    if policy is None:
        return Treatment(False, f"plan {entry.plan} version {entry.plan_version} is not known here")
    if entry.component not in policy.capitalize:
        return Treatment(False, f"component {entry.component!r} is not capitalized")
    if entry.deal is None:
        return Treatment(False, "the entry has no deal")
    given = terms.contract_months if terms is not None else None
    term = given if given is not None else policy.default_term_months
    if term is None:
        return Treatment(False, "the deal has no contract_months and the plan no default_term_months")
    source = "contract_months" if given is not None else "default_term_months"
    if policy.practical_expedient and term <= EXPEDIENT_MONTHS:
        return Treatment(
            False, f"a term of {term} months ({source}) is expensed when incurred (practical expedient)"
        )
    start_day = entry.entry_date
    if terms is not None and terms.contract_start is not None:
        start_day = terms.contract_start
    elif terms is not None and terms.close_date is not None:
        start_day = local_day(terms.close_date, policy.timezone)
    return Treatment(True, f"a term of {term} months ({source})", term, month_of(start_day))


def straight_line(amount: Decimal, term: int) -> list[Decimal]:
    """`term` equal monthly amounts summing exactly to `amount`: the first term - 1 are
    amount / term quantized to 1e-12 (half-even), the last is the rest."""
    with localcontext(EXACT):
        share = (amount / term).quantize(QUANTUM, rounding=ROUND_HALF_EVEN)
        last = amount - share * (term - 1)
    return [share] * (term - 1) + [last]


@dataclass(frozen=True)
class ScheduleRow:
    """One month of a capitalized entry's schedule and the month it is recognized in: its
    own, or, for a month before the entry's, the entry's month (cumulative catch-up)."""

    month: int
    amount: Decimal
    recognized_in: int


@dataclass(frozen=True)
class EntrySchedule:
    """An entry, its treatment, and (when capitalized) its schedule."""

    entry: LedgerEntry
    treatment: Treatment
    rows: tuple[ScheduleRow, ...]

    @property
    def month(self) -> int:
        """The month of the entry's date (capitalized or expensed in it)."""
        return month_of(self.entry.entry_date)


def entry_schedule(entry: LedgerEntry, treatment: Treatment) -> EntrySchedule:
    """Rule 3: a capitalized entry, positive or negative, amortizes in T equal monthly
    amounts from the month of `contract_start`; months before the entry's own month are
    recognized together in it. An expensed entry has no schedule."""
    if not treatment.capitalized or treatment.term_months is None or treatment.start is None:
        return EntrySchedule(entry, treatment, ())
    own = month_of(entry.entry_date)
    amounts = straight_line(entry.amount, treatment.term_months)
    rows = tuple(
        ScheduleRow(treatment.start + n, amount, max(treatment.start + n, own))
        for n, amount in enumerate(amounts)
    )
    return EntrySchedule(entry, treatment, rows)


@dataclass(frozen=True)
class Posting:
    """What one entry recognizes in one month, in one of the three kinds."""

    month: int
    currency: str
    kind: Kind
    amount: Decimal


def postings(schedules: Iterable[EntrySchedule]) -> list[Posting]:
    """Every entry's postings: a capitalized entry in its month and its schedule's amounts
    where they are recognized; an expensed one in its month."""
    found: list[Posting] = []
    for schedule in schedules:
        currency = schedule.entry.currency
        if not schedule.treatment.capitalized:
            found.append(Posting(schedule.month, currency, "expensed", schedule.entry.amount))
            continue
        found.append(Posting(schedule.month, currency, "capitalized", schedule.entry.amount))
        found += [Posting(r.recognized_in, currency, "amortization", r.amount) for r in schedule.rows]
    return found


Totals = dict[tuple[str, Kind, int], Decimal]


def _by_month(items: Iterable[Posting]) -> Totals:
    grouped: dict[tuple[str, Kind, int], list[Decimal]] = defaultdict(list)
    for p in items:
        grouped[(p.currency, p.kind, p.month)].append(p.amount)
    return {key: exact_sum(values) for key, values in grouped.items()}


@dataclass(frozen=True)
class MonthFigures:
    """Rule 4 for one month and currency, at full precision: `asset_closing` =
    `asset_opening` + `capitalized` - `amortization`; `expense` = `amortization` + `expensed`."""

    month: int
    currency: str
    capitalized: Decimal
    amortization: Decimal
    expensed: Decimal
    asset_opening: Decimal
    asset_closing: Decimal

    @property
    def expense(self) -> Decimal:
        """Commission expense recognized in the month."""
        return exact_sum([self.amortization, self.expensed])


def commission_expense(items: Sequence[Posting], first: int, last: int) -> list[MonthFigures]:
    """The months `first`..`last`, by month then currency; a (month, currency) with every
    figure zero is left out. The opening asset of `first` sums every earlier month."""
    totals = _by_month(items)
    currencies = sorted({p.currency for p in items})
    earlier: dict[str, list[Decimal]] = {c: [] for c in currencies}
    for (currency, kind, month), value in totals.items():
        if month < first and kind != "expensed":
            earlier[currency].append(value if kind == "capitalized" else -value)
    opening = {c: exact_sum(values) for c, values in earlier.items()}
    rows: list[MonthFigures] = []
    for month in range(first, last + 1):
        for c in currencies:
            capitalized = totals.get((c, "capitalized", month), ZERO)
            amortization = totals.get((c, "amortization", month), ZERO)
            expensed = totals.get((c, "expensed", month), ZERO)
            closing = exact_sum([opening[c], capitalized, -amortization])
            figures = MonthFigures(month, c, capitalized, amortization, expensed, opening[c], closing)
            if any((opening[c], capitalized, amortization, expensed, closing)):
                rows.append(figures)
            opening[c] = closing
    return rows


@dataclass(frozen=True)
class Accounts:
    """The general ledger's account codes (settings `PROVISIO_ACCOUNT_*`)."""

    deferred_commissions: str = "deferred_commissions"
    commissions_payable: str = "commissions_payable"
    commission_expense: str = "commission_expense"

    def code(self, name: AccountName) -> str:
        """The code of one of the three accounts."""
        code: str = getattr(self, name)
        return code


@dataclass(frozen=True)
class JournalLine:
    """One debit or credit of a month's journal, rounded to the currency's minor unit."""

    month: int
    currency: str
    kind: Kind
    account_name: AccountName
    account: str
    debit: Decimal
    credit: Decimal


def _cumulative(items: Iterable[Posting], through: int) -> dict[tuple[str, Kind], Decimal]:
    grouped: dict[tuple[str, Kind], list[Decimal]] = defaultdict(list)
    for p in items:
        if p.month <= through:
            grouped[(p.currency, p.kind)].append(p.amount)
    return {key: exact_sum(values) for key, values in grouped.items()}


def journal_amounts(items: Sequence[Posting], month: int) -> dict[tuple[str, Kind], Decimal]:
    """Each (currency, kind)'s amount in `month`, rounded so the months sum exactly:
    round(sum through the month) - round(sum through the month before), half-up."""
    now = _cumulative(items, month)
    before = _cumulative(items, month - 1)
    amounts: dict[tuple[str, Kind], Decimal] = {}
    for (currency, kind), total in sorted(now.items()):
        prior = before.get((currency, kind), ZERO)
        amounts[(currency, kind)] = round_money(total, currency, "half_up") - round_money(
            prior, currency, "half_up"
        )
    return amounts


def journal(items: Sequence[Posting], month: int, accounts: Accounts) -> list[JournalLine]:
    """Rule 5: per currency, capitalized (Dr deferred_commissions / Cr commissions_payable),
    amortization (Dr commission_expense / Cr deferred_commissions) and expensed (Dr
    commission_expense / Cr commissions_payable); a negative amount swaps the sides; a
    zero amount writes no line."""
    lines: list[JournalLine] = []
    amounts = journal_amounts(items, month)
    for currency in sorted({c for c, _ in amounts}):
        for kind in KINDS:
            amount = amounts.get((currency, kind), ZERO)
            if amount == 0:
                continue
            debit, credit = SIDES[kind] if amount > 0 else SIDES[kind][::-1]
            size = abs(amount)
            lines += [
                JournalLine(month, currency, kind, debit, accounts.code(debit), size, ZERO),
                JournalLine(month, currency, kind, credit, accounts.code(credit), ZERO, size),
            ]
    return lines


JOURNAL_COLUMNS = ("month", "currency", "kind", "account", "account_name", "debit", "credit")


def journal_csv(lines: Iterable[JournalLine]) -> str:
    """The journal lines as CSV, amounts with exactly the currency's minor digits."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(JOURNAL_COLUMNS)
    for line in lines:
        writer.writerow(
            [
                month_text(line.month),
                line.currency,
                line.kind,
                line.account,
                line.account_name,
                format_minor(line.debit, line.currency),
                format_minor(line.credit, line.currency),
            ]
        )
    return out.getvalue()
