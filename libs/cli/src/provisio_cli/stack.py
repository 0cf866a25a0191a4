"""The local stack of `make up`: embedded Postgres, the Tansu broker, the four services
and the demo CRM, all under one state folder, every process tracked by its pid."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from provisio_common.embedded import (
    EMBEDDED_FETCH_MAX_WAIT_MS,
    EmbeddedBroker,
    EmbeddedPostgres,
    free_port,
    pid_alive,
    port_open,
    stop_pid,
)
from provisio_common.settings import ProvisioSettings
from provisio_common.webhooks import new_secret

SERVICES = {
    "deal-ingest": ("deal_ingest", 8101),
    "calc-engine": ("calc_engine", 8102),
    "quota-service": ("quota_service", 8103),
    "payout-service": ("payout_service", 8104),
}
DATABASES = {
    "deal-ingest": "provisio_ingest",
    "calc-engine": "provisio_calc",
    "quota-service": "provisio_quota",
    "payout-service": "provisio_payout",
}
DEFAULT_PG_PORT = 54320
DEFAULT_PROMETHEUS_PORT = 9090
# deploy/prometheus of the source tree (the editable install `make venv` makes); absent in a
# wheel install, where `make up` simply starts no Prometheus.
PROMETHEUS_DEPLOY = Path(__file__).resolve().parents[4] / "deploy" / "prometheus"
DEFAULT_BROKER_PORT = 19092
HOST = "127.0.0.1"


DEMO_SALESFORCE_ORG_ID = "00D000000000001EAA"


def prometheus_config(ports: dict[str, int], deploy: Path = PROMETHEUS_DEPLOY) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml (docker compose's) with every target on 127.0.0.1 at the
    port of its service and the rules file by absolute path: the same jobs, labels and rules."""
    config: dict[str, Any] = yaml.safe_load((deploy / "prometheus.yml").read_text())
    config["rule_files"] = [str((deploy / name).resolve()) for name in config.get("rule_files", [])]
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            static["targets"] = [f"{HOST}:{ports[job['job_name']]}"]
    return config


def _new_webhook_secrets() -> dict[str, str]:
    """One secret per CRM door (HubSpot: the app's client secret; Pipedrive: user:password;
    Salesforce Outbound Messages: `<org id>:<secret>`, the basic auth of the demo org)."""
    return {
        "generic": new_secret(),
        "hubspot": secrets.token_hex(16),
        "salesforce": new_secret(),
        "salesforce-outbound": f"{DEMO_SALESFORCE_ORG_ID}:{secrets.token_urlsafe(24)}",
        "pipedrive": f"provisio:{secrets.token_urlsafe(18)}",
    }


class Stack:
    """The local stack kept under one state folder: its config, pids, logs and processes."""

    def __init__(self, state: Path) -> None:
        self.state = state.resolve()
        self.pids = self.state / "pids"
        self.logs = self.state / "logs"

    # -- configuration kept across runs (ports, secrets) --------------------------------
    def config(self) -> dict[str, Any]:
        """The ports and secrets of this state folder, chosen on first use and kept in config.json."""
        path = self.state / "config.json"
        if path.exists():
            config: dict[str, Any] = json.loads(path.read_text())
            if set(config["webhook_secrets"]) >= set(_new_webhook_secrets()) and "pg_password" in config:
                return config
            # A state folder from before a door (or the Postgres password) existed: add them.
            config["webhook_secrets"] = {**_new_webhook_secrets(), **config["webhook_secrets"]}
            config.setdefault("pg_password", secrets.token_urlsafe(24))
            path.write_text(json.dumps(config, indent=2))
            path.chmod(0o600)
            return config
        self.state.mkdir(parents=True, exist_ok=True)
        env = os.environ
        config = {
            "ports": {
                "postgres": int(env.get("PROVISIO_PG_PORT", DEFAULT_PG_PORT)),
                "broker": int(env.get("PROVISIO_BROKER_PORT", DEFAULT_BROKER_PORT)),
                **{
                    name: int(env.get(f"PROVISIO_{name.upper().replace('-', '_')}_PORT", port))
                    for name, (_, port) in SERVICES.items()
                },
            },
            "jwt_secret": secrets.token_urlsafe(32),
            # The embedded Postgres asks every connection for it (scram-sha-256).
            "pg_password": secrets.token_urlsafe(24),
            "webhook_secrets": _new_webhook_secrets(),
        }
        path.touch(mode=0o600)
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)
        return config

    def settings(self) -> ProvisioSettings:
        """The settings a client of this stack needs: Postgres port, broker address, JWT secret."""
        config = self.config()
        return ProvisioSettings(
            pg_port=config["ports"]["postgres"],
            pg_password=config["pg_password"],
            kafka_bootstrap=f"{HOST}:{config['ports']['broker']}",
            jwt_secret=config["jwt_secret"],
        )

    # -- pids ---------------------------------------------------------------------------
    def _pid(self, name: str) -> int | None:
        path = self.pids / f"{name}.pid"
        if not path.exists():
            return None
        pid = int(path.read_text().strip())
        return pid if pid_alive(pid) else None

    def pid(self, name: str) -> int | None:
        """The pid of a running process of the stack, None when it is not running."""
        return self._pid(name)

    def _record(self, name: str, pid: int) -> None:
        self.pids.mkdir(parents=True, exist_ok=True)
        (self.pids / f"{name}.pid").write_text(str(pid))

    def _forget(self, name: str) -> None:
        (self.pids / f"{name}.pid").unlink(missing_ok=True)

    # -- up -------------------------------------------------------------------------------
    def up(self) -> int:
        """Start the stack, load the demo and write stack.json (tokens, URLs); print how to use it."""
        started = time.monotonic()
        config = self.config()
        urls = self.start_processes()
        self.start_prometheus()
        from provisio_cli.demo import run_demo

        demo = run_demo(self.settings(), urls, config["webhook_secrets"]["generic"])
        stack_json = self._write_stack_json(config, urls, demo)
        self._print_welcome(stack_json, demo, time.monotonic() - started)
        return 0

    def start_processes(self) -> dict[str, str]:
        """Start whatever is not running yet; return the service URLs once all are ready."""
        config = self.config()
        ports = config["ports"]
        self.logs.mkdir(parents=True, exist_ok=True)
        postgres = EmbeddedPostgres(
            root=self.state / "pg", port=ports["postgres"], password=config["pg_password"]
        )
        if self._pid("postgres") is None:
            self._refuse_taken_port("postgres", ports["postgres"])
            self._record("postgres", postgres.start())
        print(f"postgres   127.0.0.1:{ports['postgres']}")
        if self._pid("broker") is None:
            self._refuse_taken_port("broker", ports["broker"])
            broker = EmbeddedBroker(port=ports["broker"], log_file=self.logs / "broker.log")
            # The broker keeps everything in memory: on a new one, the services re-create
            # topics and re-publish their outboxes (nothing is lost).
            self._record("broker", broker.start())
        print(f"broker     127.0.0.1:{ports['broker']}")
        env = self._service_env(config)
        for name in SERVICES:
            if self._pid(name) is not None:
                continue
            self._refuse_taken_port(name, ports[name])
            self._spawn(name, name, ports[name], env)
        urls = {name: f"http://{HOST}:{ports[name]}" for name in SERVICES}
        for name, url in urls.items():
            self._wait_ready(name, url)
            print(f"{name:<14} {url}  (docs: {url}/docs)")
        return urls

    def _spawn(self, service: str, name: str, port: int, env: dict[str, str]) -> None:
        """Start one process of `service` on `port`, recorded (pid and log) as `name`."""
        module = SERVICES[service][0]
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", f"{module}.main"],
                env={**env, "PROVISIO_HTTP_PORT": str(port)},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._record(name, process.pid)

    def spawn_replica(self, service: str, replica: int) -> str:
        """Start another process of `service` (same database and consumer group) on a free
        port, recorded as `<service>-<replica>`; return its URL (`wait_ready` waits for it)."""
        name, port = f"{service}-{replica}", free_port()
        self._spawn(service, name, port, self._service_env(self.config()))
        return f"http://{HOST}:{port}"

    def wait_ready(self, name: str, url: str) -> None:
        """Wait until a process of the stack answers ready (SystemExit if it never does)."""
        self._wait_ready(name, url)

    def stop(self, name: str) -> None:
        """Stop one process of the stack (a service or a replica) by its recorded pid."""
        pid = self._pid(name)
        if pid is not None:
            stop_pid(pid)
        self._forget(name)

    def _replicas(self) -> list[str]:
        """The names of the replicas started by `start_replica` and still recorded."""
        if not self.pids.exists():
            return []
        return sorted(p.stem for p in self.pids.glob("*.pid") if p.stem.rsplit("-", 1)[0] in SERVICES)

    def start_prometheus(self) -> str | None:
        """Start Prometheus on the services (same scrape config and rules as docker compose) if a
        `prometheus` binary is on PATH; otherwise say how to get one. Returns its URL or None."""
        port = int(os.environ.get("PROVISIO_PROMETHEUS_PORT", DEFAULT_PROMETHEUS_PORT))
        url = f"http://{HOST}:{port}"
        binary = shutil.which("prometheus")
        if binary is None or not (PROMETHEUS_DEPLOY / "prometheus.yml").exists():
            print(
                "prometheus     not started: no `prometheus` on PATH (Debian/Ubuntu: "
                "sudo apt-get install prometheus; or a release from prometheus.io/download), "
                "then `make up` again; alerts and rules: deploy/prometheus/"
            )
            return None
        if self._pid("prometheus") is None:
            if port_open(HOST, port):
                print(f"prometheus     not started: port {port} is in use (set PROVISIO_PROMETHEUS_PORT)")
                return None
            folder = self.state / "prometheus"
            folder.mkdir(parents=True, exist_ok=True)
            ports = {name: self.config()["ports"][name] for name in SERVICES}
            config_file = folder / "prometheus.yml"
            config_file.write_text(yaml.safe_dump(prometheus_config(ports), sort_keys=False))
            with (self.logs / "prometheus.log").open("ab") as log:
                process = subprocess.Popen(
                    [
                        binary,
                        f"--config.file={config_file}",
                        f"--storage.tsdb.path={folder / 'data'}",
                        f"--web.listen-address={HOST}:{port}",
                        "--storage.tsdb.retention.time=7d",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            self._record("prometheus", process.pid)
        print(f"prometheus     {url}  (alerts: {url}/alerts; dashboards: deploy/grafana/dashboards)")
        return url

    def _refuse_taken_port(self, name: str, port: int) -> None:
        if port_open(HOST, port):
            raise SystemExit(
                f"{name}: port {port} is already in use by another program; set "
                f"PROVISIO_{name.upper().replace('-', '_')}_PORT (or delete {self.state}/config.json)"
            )

    def _service_env(self, config: dict[str, Any]) -> dict[str, str]:
        ports = config["ports"]
        return {
            **os.environ,
            "PROVISIO_ENVIRONMENT": "local",
            "PROVISIO_PG_PORT": str(ports["postgres"]),
            "PROVISIO_PG_PASSWORD": config["pg_password"],
            "PROVISIO_KAFKA_BOOTSTRAP": f"{HOST}:{ports['broker']}",
            "PROVISIO_JWT_SECRET": config["jwt_secret"],
            "PROVISIO_GENERIC_WEBHOOK_SECRETS": config["webhook_secrets"]["generic"],
            "PROVISIO_HUBSPOT_CLIENT_SECRETS": config["webhook_secrets"]["hubspot"],
            "PROVISIO_SALESFORCE_WEBHOOK_SECRETS": config["webhook_secrets"]["salesforce"],
            "PROVISIO_PIPEDRIVE_BASIC_AUTH": config["webhook_secrets"]["pipedrive"],
            "PROVISIO_SALESFORCE_ORG_IDS": DEMO_SALESFORCE_ORG_ID,
            "PROVISIO_SALESFORCE_OUTBOUND_SECRETS": config["webhook_secrets"]["salesforce-outbound"],
            "PROVISIO_KAFKA_SESSION_TIMEOUT_MS": "6000",
            "PROVISIO_KAFKA_HEARTBEAT_INTERVAL_MS": "500",
            "PROVISIO_KAFKA_FETCH_MAX_WAIT_MS": str(EMBEDDED_FETCH_MAX_WAIT_MS),
            # calc-engine's POST /recompute asks these what they published (DESIGN.md §4).
            "PROVISIO_DEAL_INGEST_URL": f"http://{HOST}:{ports['deal-ingest']}",
            "PROVISIO_QUOTA_SERVICE_URL": f"http://{HOST}:{ports['quota-service']}",
        }

    def _wait_ready(self, name: str, url: str, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            if self._pid(name) is None:
                raise SystemExit(f"{name} exited; see {self.logs / (name + '.log')}")
            try:
                response = httpx.get(f"{url}/readyz", timeout=2)
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.3)
        raise SystemExit(f"{name} not ready after {timeout_s}s ({last}); see {self.logs}")

    def _write_stack_json(
        self, config: dict[str, Any], urls: dict[str, str], demo: dict[str, Any]
    ) -> dict[str, Any]:
        from provisio_common.auth import mint_token

        settings = self.settings()
        tokens = {
            "admin": mint_token(settings, "admin", "admin"),
            # A second admin: payout batches need two people (one builds, another approves).
            "admin2": mint_token(settings, "admin2", "admin"),
            "manager": mint_token(settings, demo["manager"], "manager"),
            "rep": mint_token(settings, demo["rep"], "rep"),
            "other_rep": mint_token(settings, demo["other_rep"], "rep"),
            "payroll": mint_token(settings, "payroll", "payroll"),
            "ops": mint_token(settings, "ops", "ops"),
        }
        ports = config["ports"]
        stack = {
            "services": urls,
            "broker": f"{HOST}:{ports['broker']}",
            "postgres": f"postgresql://postgres:{config['pg_password']}@{HOST}:{ports['postgres']}/postgres",
            "tokens": tokens,
            "demo": {"rep": demo["rep"], "other_rep": demo["other_rep"], "manager": demo["manager"]},
            "webhook_secrets": config["webhook_secrets"],
        }
        path = self.state / "stack.json"
        path.write_text(json.dumps(stack, indent=2))
        path.chmod(0o600)
        return stack

    def _print_welcome(self, stack: dict[str, Any], demo: dict[str, Any], seconds: float) -> None:
        payout = stack["services"]["payout-service"]
        print(f"\nProvisio is up ({seconds:.0f}s). State: {self.state}; `make logs` follows the logs.")
        print(f"Demo: {demo['deals']} deals for {demo['company']}; everything is in {self.state}/stack.json")
        print(
            f"Secrets (owner-only files): {self.state}/config.json holds the JWT secret, the webhook "
            "secrets of every door and the Postgres password (scram-sha-256, 127.0.0.1 only); "
            f"{self.state}/stack.json the tokens below and the Postgres URL."
        )
        for role, value in stack["tokens"].items():
            print(f"  token {role:<9} {value}")
        print("\nA rep's statements:")
        rep_token = stack["tokens"]["rep"]
        print(f"  curl -s -H 'Authorization: Bearer {rep_token}' {payout}/statements/{demo['rep']}")
        if demo.get("batch"):
            payroll = stack["tokens"]["payroll"]
            print(
                f"\nPayroll's approved batch for {demo['pay_period']} (built by admin, approved by admin2):"
            )
            pull = f"curl -s -H 'Authorization: Bearer {payroll}' {payout}/payroll/batches"
            print(f"  {pull}")
            print(f"  {pull}/{demo['batch']}/lines.csv")
        if demo.get("accounting"):
            ops, span = stack["tokens"]["ops"], demo["accounting"]
            print("\nCommission expense (ASC 340-40; the 36-month demo deal is capitalized and amortized):")
            report = f"{payout}/accounting/commission-expense?from={span['from']}&to={span['to']}"
            print(f"  curl -s -H 'Authorization: Bearer {ops}' '{report}'")

    # -- down / status ----------------------------------------------------------------------
    def down(self) -> int:
        """Stop the services, the broker and Postgres, and forget their pids."""
        for name in ["prometheus", *self._replicas(), *reversed(list(SERVICES)), "broker"]:
            pid = self._pid(name)
            if pid is not None:
                stop_pid(pid)
                print(f"stopped {name} (pid {pid})")
            self._forget(name)
        if self._pid("postgres") is not None:
            config = self.config()
            EmbeddedPostgres(root=self.state / "pg", port=config["ports"]["postgres"]).stop()
            print("stopped postgres")
        self._forget("postgres")
        return 0

    def status(self) -> int:
        """Print each process as running (with its pid) or stopped; 3 when none runs."""
        running = 0
        for name in ["postgres", "broker", *SERVICES, "prometheus"]:
            pid = self._pid(name)
            print(f"{name:<15} {'running, pid ' + str(pid) if pid else 'stopped'}")
            running += pid is not None
        return 0 if running else 3
