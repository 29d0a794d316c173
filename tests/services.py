"""Private instances of the real services, for tests that stop and restart them mid-stream (the
machine's shared Mosquitto and PostgreSQL stay untouched), and MQTT helpers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.conftest import CI, free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SHARED_BROKER = ("127.0.0.1", 1883)


def wait_port(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


def need(path: str | Path, what: str) -> None:
    """Skip (fail under CI) when a service's program is missing."""
    if not Path(path).exists() and shutil.which(str(path)) is None:
        if CI:
            raise AssertionError(f"{what} ({path}) is not installed")
        pytest.skip(f"{what} ({path}) is not installed")


class Broker:
    """A private Mosquitto with persistence, on a free port, that a test may stop and start."""

    def __init__(self, workdir: Path) -> None:
        need("mosquitto", "Mosquitto")
        self.port = free_port()
        self.dir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(workdir, 0o777)  # mosquitto, started as root, drops to its own user
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                             f"persistence_location {workdir}/\nmax_queued_messages 0\nmax_inflight_messages 0\n"
                             f"log_dest file {workdir}/mosquitto.log\nuser root\n", encoding="utf-8")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self) -> None:
        """A clean stop (SIGTERM): Mosquitto writes its persistence file, as on a planned restart."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(30)
            self.proc = None


class Postgres:
    """A private PostgreSQL cluster on a free port (initdb as the postgres user), stoppable mid-test."""

    def __init__(self) -> None:
        need(PG_BIN / "initdb", "PostgreSQL's server programs")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="citylifeline-pg-"))  # outside pytest's 0700 tree: postgres owns it
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres([str(PG_BIN / "initdb"), "-D", str(self.dir), "-A", "trust", "-U", "postgres", "--no-sync"])
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, cmd: list[str], check: bool = True) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(prefix + cmd, check=check, capture_output=True, timeout=120)

    def start(self) -> None:
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-w", "-l", str(self.dir / "log"),
                           "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start"])

    def stop(self) -> None:
        """A fast shutdown: open connections are cut, as in a restart or a failover."""
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-w", "-m", "fast", "stop"], check=False)

    def remove(self) -> None:
        """Stop the cluster and delete its files."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def publisher(host: str, port: int, client_id: str | None = None) -> mqtt.Client:
    """A connected MQTT 5 publisher (with a persistent session, so it re-sends unacknowledged messages
    after a lost connection), its network loop running."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"pub-{uuid.uuid4().hex[:10]}",
                    protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(100)
    c.max_queued_messages_set(0)
    c.reconnect_delay_set(0.2, 2)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 600
    c.connect(host, port, clean_start=False, properties=props)
    c.loop_start()
    return c


def forget_session(host: str, port: int, client_id: str) -> None:
    """Remove a persistent session from the shared broker (a clean start with no expiry)."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.connect(host, port, clean_start=True)
    c.loop_start()
    time.sleep(0.2)
    c.disconnect()
    c.loop_stop()


@contextmanager
def mqtt_names() -> Iterator[tuple[str, str]]:
    """A topic prefix and a client id of the test's own on the shared broker; its session is removed after."""
    tag = uuid.uuid4().hex[:10]
    prefix, client_id = f"citylifeline-test/{tag}", f"citylifeline-test-{tag}"
    try:
        yield prefix, client_id
    finally:
        forget_session(*SHARED_BROKER, client_id)
