"""`provisio calc` as a process: the examples, every format, and bad input (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"
ARGS = [
    "--plan",
    str(EXAMPLES / "ae-2027.yaml"),
    "--deals",
    str(EXAMPLES / "deals.jsonl"),
    "--payees",
    str(EXAMPLES / "payees.csv"),
    "--quotas",
    str(EXAMPLES / "quotas.csv"),
    "--fx",
    str(EXAMPLES / "fx.csv"),
    "--as-of",
    "2027-04-30",
]


def calc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "provisio_calc.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_examples_as_json() -> None:
    done = calc(*ARGS, "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert list(data) == ["plan", "currency", "lines", "payouts", "exceptions"]
    assert (data["plan"], data["currency"]) == ("ae-2027", "USD")
    line = data["lines"][0]
    assert list(line)[:7] == ["payee", "component", "period", "value", "attainment", "earned", "cash"]
    assert set(data["payouts"][0]) == {
        "payee",
        "pay_period",
        "earned",
        "draw_topup",
        "recovered",
        "balance",
        "payable",
        "non_cash",
    }
    assert {e["kind"] for e in data["exceptions"]} >= {"missing_fx", "bad_split", "unknown_payee"}
    # decimals are plain strings without exponent or trailing zeros
    for row in data["lines"]:
        Decimal(row["earned"])
        assert "E" not in row["earned"] and not ("." in row["earned"] and row["earned"].endswith("0"))


def test_examples_as_table_and_csv() -> None:
    table = calc(*ARGS, "--explain")
    assert table.returncode == 0, table.stderr
    assert "LINES" in table.stdout and "PAYOUTS" in table.stdout and "band 1" in table.stdout
    csv_out = calc(*ARGS, "--format", "csv")
    assert csv_out.returncode == 0
    assert csv_out.stdout.splitlines()[0] == "payee,component,period,value,attainment,earned,cash"


def test_the_readme_output_is_current() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    table = calc(*ARGS).stdout
    assert table.strip() in readme


def write(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("deals", "needle"),
    [
        ('{"source": "crm"}\n', "deals.jsonl:1: external_id"),
        (
            '\n{"source":"crm","external_id":"1","revision":1,"status":"won","amount":"12,5",'
            '"currency":"USD","close_date":"2027-01-02","owner":"a"}\n',
            "deals.jsonl:2: amount",
        ),
        ("not json\n", "deals.jsonl:1: not valid JSON"),
        (
            '{"source":"crm","external_id":"1","revision":1,"status":"won","amount":"1",'
            '"currency":"USD","close_date":"2027-01-02","owner":"a"}\n'
            '{"source":"crm","external_id":"1","revision":1,"status":"won","amount":"2",'
            '"currency":"USD","close_date":"2027-01-02","owner":"a"}\n',
            "deals.jsonl:2: amount: deal crm:1 revision 1 differs from line 1",
        ),
    ],
)
def test_bad_deals_exit_2_naming_file_line_field(tmp_path: Path, deals: str, needle: str) -> None:
    done = calc(
        "--plan",
        str(EXAMPLES / "ae-2027.yaml"),
        "--deals",
        write(tmp_path, "deals.jsonl", deals),
        "--as-of",
        "2027-04-30",
    )
    assert done.returncode == 2
    assert needle in done.stderr


def test_a_bad_plan_lists_every_problem_with_its_line(tmp_path: Path) -> None:
    text = (EXAMPLES / "ae-2027.yaml").read_text()
    text = text.replace('{to: 150, rate: "0.15"}', '{to: 90, rate: "0.15"}')
    text = text.replace('rate: "0.03"', "rate: three")
    plan = write(tmp_path, "plan.yaml", text)
    done = calc("--plan", plan, "--deals", str(EXAMPLES / "deals.jsonl"))
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert any("plan.yaml:18: components[0].tiers.bands[1].to" in ln for ln in lines), lines
    assert any("components[1].rate" in ln for ln in lines)


def test_bad_csv_names_file_line_field(tmp_path: Path) -> None:
    quotas = write(tmp_path, "quotas.csv", "payee,period,amount\nana,2027-Q1,100\nbob,2027-Q5,1\n")
    done = calc(*ARGS[:4], "--quotas", quotas)
    assert done.returncode == 2 and "quotas.csv:3: period" in done.stderr
    fx = write(tmp_path, "fx.csv", "date,from,to,rate\n2027-01-01,EUR,USD,abc\n")
    done = calc(*ARGS[:4], "--fx", fx)
    assert done.returncode == 2 and "fx.csv:2: rate" in done.stderr


def test_usage_errors_exit_2() -> None:
    assert calc("--deals", "x").returncode == 2
    assert calc(*ARGS, "--as-of", "tomorrow").returncode == 2


def test_activities_file(tmp_path: Path) -> None:
    plan = write(
        tmp_path,
        "plan.yaml",
        """
id: calls
currency: USD
period: month
effective: {from: 2027-01-01, to: 2027-12-31}
components:
  - {id: calls, kind: commission, measure: {metric: "activity:call"}, rate: 5}
""",
    )
    deals = write(tmp_path, "deals.jsonl", "")
    row = '{"source":"crm","external_id":"%s","kind":"call","owner":"ana","occurred_at":"%s"}\n'
    acts = write(tmp_path, "acts.jsonl", row % ("1", "2027-01-05T10:00:00Z") * 2 + row % ("2", "2027-02-01"))
    done = calc(
        "--plan", plan, "--deals", deals, "--activities", acts, "--as-of", "2027-03-01", "--format", "csv"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:] == ["ana,calls,2027-01,1,,5,true", "ana,calls,2027-02,1,,5,true"]
    bad = write(tmp_path, "bad.jsonl", row % ("1", "2027-01-05") + row % ("1", "2027-01-06"))
    done = calc("--plan", plan, "--deals", deals, "--activities", bad)
    assert done.returncode == 2 and "bad.jsonl:2: occurred_at" in done.stderr


def test_the_provisio_dispatcher_runs_calc() -> None:
    # `make venv` installs the workspace's console script next to the interpreter.
    script = str(Path(sys.executable).parent / "provisio")
    done = subprocess.run(
        [script, "calc", *ARGS, "--format", "csv"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == calc(*ARGS, "--format", "csv").stdout


VERSION_1 = """id: ae
version: 1
currency: USD
period: quarter
effective: {from: 2027-01-01, to: 2027-12-31}
components:
  - {id: c, kind: commission, rate: "0.10"}
"""
VERSION_2 = (
    VERSION_1.replace("version: 1", "version: 2")
    .replace("from: 2027-01-01", "from: 2027-04-01")
    .replace('"0.10"', '"0.20"')
)
VERSION_DEALS = "".join(
    json.dumps(
        {
            "source": "crm",
            "external_id": n,
            "revision": 1,
            "status": "won",
            "amount": "1000",
            "currency": "USD",
            "close_date": day,
            "owner": "ana",
        }
    )
    + "\n"
    for n, day in (("1", "2027-03-31"), ("2", "2027-04-01"))
)


def test_several_versions_as_files_or_one_multi_document_yaml_name_the_version_per_line(
    tmp_path: Path,
) -> None:
    deals = write(tmp_path, "deals.jsonl", VERSION_DEALS)
    # newest by `version`, whatever the order of the files
    two_files = calc(
        "--plan",
        write(tmp_path, "v2.yaml", VERSION_2),
        "--plan",
        write(tmp_path, "v1.yaml", VERSION_1),
        "--deals",
        deals,
        "--as-of",
        "2027-12-31",
        "--format",
        "csv",
    )
    assert two_files.returncode == 0, two_files.stderr
    assert two_files.stdout.splitlines() == [
        "payee,component,period,value,attainment,earned,cash,plan_version",
        "ana,c,2027-Q1,1000,,100,true,1",
        "ana,c,2027-Q2,1000,,200,true,2",
    ]
    both = write(tmp_path, "both.yaml", VERSION_1 + "---\n" + VERSION_2)
    one_file = calc("--plan", both, "--deals", deals, "--as-of", "2027-12-31", "--format", "csv")
    assert one_file.stdout == two_files.stdout
    table = calc("--plan", both, "--deals", deals, "--as-of", "2027-12-31").stdout.splitlines()
    assert table[0] == "plan ae (USD), 2 versions"
    assert table[3].split() == [
        "payee",
        "component",
        "period",
        "value",
        "attainment",
        "earned",
        "cash",
        "version",
    ]
    assert table[5].split()[-1] == "1" and table[6].split()[-1] == "2"
    explained = json.loads(
        calc("--plan", both, "--deals", deals, "--as-of", "2027-12-31", "--format", "json").stdout
    )
    assert [ln["explanation"]["plan_version"] for ln in explained["lines"]] == [1, 2]


def test_bad_versions_exit_2_naming_file_line_and_field(tmp_path: Path) -> None:
    deals = write(tmp_path, "deals.jsonl", VERSION_DEALS)
    mid = write(tmp_path, "mid.yaml", VERSION_1 + "---\n" + VERSION_2.replace("2027-04-01", "2027-05-01"))
    done = calc("--plan", mid, "--deals", deals)
    assert done.returncode == 2
    assert "mid.yaml:13: effective.from: must be the first day of a quarter" in done.stderr
    euro = write(tmp_path, "eur.yaml", VERSION_2.replace("USD", "EUR"))
    done = calc("--plan", write(tmp_path, "v1.yaml", VERSION_1), "--plan", euro, "--deals", deals)
    assert done.returncode == 2 and "eur.yaml:3: currency: is 'EUR'" in done.stderr
    twice = calc(
        "--plan",
        write(tmp_path, "a.yaml", VERSION_1),
        "--plan",
        write(tmp_path, "b.yaml", VERSION_1),
        "--deals",
        deals,
    )
    assert twice.returncode == 2 and "b.yaml:2: version: version 1 appears twice" in twice.stderr


def test_settled_rules_34_and_36_through_the_cli(tmp_path: Path) -> None:
    plan = write(
        tmp_path,
        "plan.yaml",
        VERSION_1 + "  - {id: s, kind: spif, window: {from: 2026-12-01, to: 2027-01-31}, per_deal: 50}\n",
    )
    deals = write(
        tmp_path,
        "deals.jsonl",
        '{"source":"crm","external_id":"1","revision":1,"status":"won","amount":"1000","currency":"USD",'
        '"close_date":"2026-12-20","owner":"ana"}\n'
        '{"source":"crm","external_id":"2","revision":1,"status":"won","amount":"1000","currency":"USD",'
        '"close_date":"2027-01-20","owner":"zed","changed_at":"2027-01-20"}\n'
        '{"source":"crm","external_id":"2","revision":2,"status":"won","amount":"1000","currency":"USD",'
        '"close_date":"2027-01-20","owner":"ana","changed_at":"2027-01-25"}\n',
    )
    payees = write(tmp_path, "payees.csv", "id,name\nana,Ana\n")
    done = calc(
        "--plan", plan, "--deals", deals, "--payees", payees, "--as-of", "2027-12-31", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert [(ln["component"], ln["earned"]) for ln in body["lines"]] == [("c", "100"), ("s", "50")]
    assert body["exceptions"] == []  # zed owned only the superseded revision 1
