"""A real PostgreSQL server for the tests, started from the machine's own binaries (Debian's
`postgresql` package: `pg_ctl` on PATH or in /usr/lib/postgresql/<version>/bin) in a
temporary directory, listening on 127.0.0.1 only; `initdb` refuses to run as root, so as
root it runs as the `postgres` user (or `nobody`) through `runuser`."""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

USER = "citebot"
#: the role that logs in with a password (the others are trusted on 127.0.0.1)
PASSWORD_ROLE = "guarded"


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl, or None."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(os.path.realpath(found)).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                      key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return versions[-1].parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    root: Path
    bin: Path
    port: int
    run_as: list[str]
    options: str = ""
    _names: itertools.count = field(default_factory=lambda: itertools.count(1))

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{dbname}"

    def new_database(self) -> str:
        """A fresh, empty database; its DSN."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.dsn(name)

    def pause(self) -> None:
        """Stop the server (as an outage does), keeping its data for `resume`."""
        subprocess.run([*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.root / "data"),
                        "-m", "fast", "-w", "stop"], capture_output=True, check=True)

    def resume(self) -> None:
        """Start it again on the same port, with the same data."""
        subprocess.run([*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.root / "data"),
                        "-o", self.options, "-l", str(self.root / "log"), "-w", "-t", "60",
                        "start"], capture_output=True, check=True)

    def stop(self) -> None:
        subprocess.run([*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.root / "data"),
                        "-m", "immediate", "stop"], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def start(durable: bool = False) -> PgServer | str:
    """A running server, or why there is none (one line). Tests run it without syncing to
    disk; `durable` keeps PostgreSQL's own defaults (fsync, synchronous commit), as a
    benchmark should."""
    folder = binaries()
    if folder is None:
        return ("PostgreSQL not found (no pg_ctl/initdb on PATH or in "
                "/usr/lib/postgresql/*/bin): the PostgreSQL tests are skipped "
                "(apt-get install postgresql)")
    run_as: list[str] = []
    owner = None
    if os.geteuid() == 0:  # initdb refuses root
        for name in ("postgres", "nobody"):
            try:
                owner = pwd.getpwnam(name)
                break
            except KeyError:
                continue
        runuser = shutil.which("runuser")
        if owner is None or runuser is None:
            return "PostgreSQL tests skipped: running as root with no runuser/postgres user"
        run_as = [runuser, "-u", owner.pw_name, "--"]
    root = Path(tempfile.mkdtemp(prefix="citebot-pg-"))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    data = root / "data"
    init = subprocess.run([*run_as, str(folder / "initdb"), "-D", str(data), "-A", "trust",
                           "-U", USER, "-E", "UTF8", "--no-locale", "--no-sync"],
                          capture_output=True, text=True, check=False)
    if init.returncode:
        shutil.rmtree(root, ignore_errors=True)
        return f"PostgreSQL tests skipped: initdb failed: {init.stderr.strip()[-300:]}"
    # trusted on loopback, but for one role that must give its password (`PASSWORD_ROLE`)
    (data / "pg_hba.conf").write_text(
        "local all all trust\n"
        f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
        "host all all 127.0.0.1/32 trust\n")
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c max_connections=300"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    started = subprocess.run([*run_as, str(folder / "pg_ctl"), "-D", str(data), "-o", options,
                              "-l", str(root / "log"), "-w", "-t", "60", "start"],
                             capture_output=True, text=True, check=False)
    if started.returncode:
        log = (root / "log").read_text(errors="replace")[-300:] if (root / "log").exists() \
            else started.stderr
        shutil.rmtree(root, ignore_errors=True)
        return f"PostgreSQL tests skipped: the server did not start: {log.strip()}"
    return PgServer(root, folder, port, run_as, options)
