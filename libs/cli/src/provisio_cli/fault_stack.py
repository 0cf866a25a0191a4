"""The fault suite's stack (`provisio_cli.faults`): `make up`'s processes (embedded
Postgres, the Tansu broker, the four services; `provisio_cli.stack.Stack`) on free ports in
a temporary folder, with the faults done to them: more calc-engine replicas started, a
service or a replica killed with SIGKILL by its recorded pid, the broker stopped by its
pid, Postgres stopped with pg_ctl; whatever is not running (but a killed replica) is
started again by `Stack.start_processes`, and everything is stopped by pid at the end."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from provisio_cli.bench import PORT_VARS
from provisio_cli.differential import Credentials, Urls
from provisio_cli.stack import Stack
from provisio_common.auth import mint_token
from provisio_common.embedded import EmbeddedPostgres, free_port, pid_alive, reap, stop_pid
from provisio_common.settings import ProvisioSettings


class FaultStack:
    """`make up`'s stack in `root` on free ports, with the faults the suite injects. Every
    process is started by `Stack` (its pid recorded) and stopped or killed by that pid."""

    def __init__(self, root: Path) -> None:
        saved = {var: os.environ.get(var) for var in PORT_VARS}
        os.environ.update({var: str(free_port()) for var in PORT_VARS})
        try:
            self.stack = Stack(root / "state")
            self.config = self.stack.config()  # the ports are chosen (and kept) here
        finally:
            for var, value in saved.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value

    def settings(self) -> ProvisioSettings:
        """Postgres, broker and JWT secret of the stack."""
        return self.stack.settings()

    def credentials(self) -> Credentials:
        """An admin token and the generic door's secret."""
        return Credentials(
            mint_token(self.settings(), "admin", "admin"), self.config["webhook_secrets"]["generic"]
        )

    def start(self) -> Urls:
        """Start whatever is not running (Postgres, broker, services); the URLs once all are ready."""
        try:
            urls = self.stack.start_processes()
        except SystemExit as exc:  # Stack reports a process that did not come up this way
            raise RuntimeError(f"the stack did not start: {exc}") from exc
        return Urls(urls["deal-ingest"], urls["calc-engine"], urls["quota-service"], urls["payout-service"])

    def pid(self, name: str) -> int | None:
        """The recorded pid of a running process of the stack (None when it is not running)."""
        path = self.stack.pids / f"{name}.pid"
        if not path.exists():
            return None
        pid = int(path.read_text().strip())
        return pid if pid_alive(pid) else None

    def kill9(self, name: str) -> int:
        """SIGKILL a service by its recorded pid and reap it; return the pid."""
        pid = self.pid(name)
        if pid is None:
            raise RuntimeError(f"{name} is not running")
        os.kill(pid, signal.SIGKILL)
        _reap(pid)
        return pid

    def add_replicas(self, service: str, count: int) -> list[tuple[str, int]]:
        """Start `count` more processes of `service` (its database and consumer group),
        named `<service>-2`, `<service>-3`, ...; return (name, pid) once each is ready."""
        started = []
        for replica in range(2, count + 2):
            name = f"{service}-{replica}"
            self.stack.wait_ready(name, self.stack.spawn_replica(service, replica))
            pid = self.pid(name)
            assert pid is not None, f"{name} is not running"
            started.append((name, pid))
        return started

    def stop_broker(self) -> int:
        """Stop the broker by its pid (SIGTERM, then SIGKILL); return the pid."""
        pid = self.pid("broker")
        if pid is None:
            raise RuntimeError("the broker is not running")
        stop_pid(pid)
        _reap(pid)
        return pid

    def postgres(self) -> EmbeddedPostgres:
        """The stack's Postgres server."""
        return EmbeddedPostgres(
            root=self.stack.state / "pg",
            port=self.config["ports"]["postgres"],
            password=self.config["pg_password"],
        )

    def stop_postgres(self) -> None:
        """Stop Postgres (pg_ctl fast shutdown; by pid if that fails)."""
        self.postgres().stop()

    def save_logs(self) -> Path:
        """Copy the processes' logs to a new temporary folder (to read after a failure)."""
        target = Path(tempfile.mkdtemp(prefix="provisio-faults-logs-"))
        shutil.copytree(self.stack.logs, target, dirs_exist_ok=True)
        return target

    def down(self) -> None:
        """Stop every process of the stack by its pid."""
        self.stack.down()


def _reap(pid: int, timeout_s: float = 30.0) -> None:
    """Wait until a stopped child is gone; raise if it is not."""
    if not reap(pid, timeout_s):
        raise RuntimeError(f"pid {pid} did not exit within {timeout_s}s")


@contextmanager
def throwaway_stack() -> Iterator[tuple[FaultStack, Urls]]:
    """A `FaultStack` in a temporary folder, started; stopped by pid and deleted after."""
    root = Path(tempfile.mkdtemp(prefix="provisio-faults-"))
    fs = FaultStack(root)
    try:
        yield fs, fs.start()
    finally:
        try:
            fs.down()
        finally:
            shutil.rmtree(root, ignore_errors=True)
