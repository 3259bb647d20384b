"""A real PostgreSQL server on 127.0.0.1 for the tests, started as the ``postgres`` user.

Debian's server refuses to run as root, so it is started with ``runuser``. When
the binaries or that user are missing the tests that need it skip with the reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    def __init__(self) -> None:
        self.bin = find_bin()
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="kb-pg-"))
        self.data = self.root / "data"

    def _as_postgres(self, *args: str) -> subprocess.CompletedProcess:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def start(self) -> str:
        if self.bin is None:
            raise RuntimeError("未安装 PostgreSQL（Debian 包 postgresql）")
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        r = self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-U", "kb", "--auth=trust", "-E", "UTF8",
                              "--locale=C.UTF-8")
        if r.returncode:
            raise RuntimeError(f"initdb 失败：{r.stderr[-500:]}")
        r = self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-o",
                              f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        if r.returncode:
            raise RuntimeError(f"PostgreSQL 启动失败：{r.stderr[-500:]}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._as_postgres(str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)).returncode == 0:
                break
            time.sleep(0.2)
        self._as_postgres(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "kb", "kbstore")
        return f"postgresql+psycopg://kb@127.0.0.1:{self.port}/kbstore"

    def stop(self) -> None:
        if self.bin is not None and self.data.exists():
            self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
