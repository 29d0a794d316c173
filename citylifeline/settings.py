"""Every setting of CityLifeline in one table: name, default, help.

A setting comes, in order of precedence, from a command-line flag, from the environment
variable ``CITYLIFELINE_<NAME>`` (upper case), or from the default below.  ``docs/settings.md``
lists them all, and a test checks that it does.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, fields, replace
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class Setting:
    """One setting: its name, default and a sentence of help."""

    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("db", "citylifeline.duckdb",
            "Store location: a file path for the embedded store (DuckDB, one file), or a PostgreSQL URI "
            "(postgresql://user@host:5432/dbname; add ?options=-csearch_path%3Dschema for a schema)."),
    Setting("city", "demo",
            "City bundle: a directory with city.yaml, or 'demo' for the bundled demo city."),
    Setting("host", "127.0.0.1", "Address the HTTP server listens on."),
    Setting("port", 8000, "TCP port of the HTTP server."),
    Setting("max_payload_bytes", 16 * 1024 * 1024,
            "Largest body of readings accepted, in bytes: a POST /api/v1/readings request or an MQTT message."),
    Setting("max_batch_readings", 200_000, "Most readings accepted in one HTTP request."),
    Setting("max_clock_skew_s", 300.0,
            "Readings time-stamped more than this many seconds in the future are refused."),
    Setting("earliest_time", "2000-01-01T00:00:00Z",
            "Readings time-stamped before this are refused (a device whose clock was never set)."),
    Setting("correlate_window_s", 3600.0,
            "An event joins an open incident whose latest event is at most this many seconds older."),
    Setting("correlate_radius_m", 2000.0,
            "An event joins an open incident with a sensor at most this far away (along the network where "
            "both sensors are on one, else in a straight line); sized for sensors 0.3-2 km apart, lower "
            "it where sensors are denser."),
    Setting("escalate_after_s", "300,900,1800,3600",
            "Seconds an incident of level I,II,III,IV may stay unacknowledged before it is escalated."),
    Setting("checkpoint_interval_s", 30.0,
            "How often the detector state is checkpointed to the store (seconds of wall time)."),
    Setting("no_data_intervals", 5.0,
            "A sensor silent for this many of its sampling intervals gets a 'no data' ticket."),
    Setting("stuck_readings", 15,
            "A sensor repeating the same value this many times in a row gets a 'stuck' ticket."),
    Setting("spike_factor", 8.0,
            "An isolated reading further than this many typical steps from both neighbours is a spike."),
    Setting("anomaly_threshold", 0.3,
            "Calibrated anomaly score (0-1) at which the AI detector raises a blue warning; 0.3 is about one "
            "warning per sensor in 20 months on clean data (NAB's best is 0.11: NAB forgives false alarms "
            "more than a duty officer does); 1.1 turns it off."),
    Setting("anomaly_corroborate_sensors", 0,
            "0: AI anomaly warnings are evidence only (attached to incidents the rules opened, shown on their "
            "sensors). N > 0: they open an incident when N sensors within correlate_radius_m have had one "
            "within anomaly_corroborate_s (off by default: on twin runs it added false incidents, see "
            "docs/benchmarks.md)."),
    Setting("ai_review_deviations", 2.0,
            "AI review of minor rule warnings: a blue (IV) or yellow (III) threshold or rate warning whose reading "
            "is within this many robust deviations of what its sensor usually reads at that hour (as the AI "
            "detector has learned it) is kept as evidence and opens no incident; 0 turns the review off. Orange "
            "and red warnings, and sensors the AI is still learning, are never reviewed."),
    Setting("analysts", "gas,bridge,drainage",
            "The lifeline analysts the pipeline runs, comma-separated (gas: leak or sewer biogas, source and "
            "danger for every space with a methane detector beside the gas mains; their methane rule warnings "
            "become evidence. bridge: damage from the temperature-compensated frequency, after a week of "
            "learning, and loads from the midspan strain; the strain and deflection limits become evidence, "
            "the frequency's once it has learnt. drainage: waterlogging forecast two hours ahead on the city's "
            "SWMM model at its waterlogging points and catchments, from the rain gauges and the rain forecasts "
            "pushed to it; while it rains the drainage limits become evidence. water: leaks and bursts on the "
            "EPANET model, after a day of learning; opt-in for now, the demo runs it). Empty: none."),
    Setting("anomaly_corroborate_s", 900.0,
            "The time within which AI anomaly warnings of nearby sensors corroborate each other."),
    Setting("max_incidents_per_asset_hour", 3,
            "At most this many incidents are opened on one asset in an hour; further warnings there are "
            "kept as evidence, marked as suppressed, and open nothing (anti-flood)."),
    Setting("writer_queue_batches", 256,
            "Batches that may wait for the single writer before HTTP clients get 503 (back-pressure)."),
    Setting("mqtt_url", "",
            "MQTT broker to ingest readings from: mqtt://[user:password@]host:1883 (mqtts:// for TLS); empty: "
            "no MQTT ingestion."),
    Setting("mqtt_topic_prefix", "citylifeline/v1",
            "Topics under which readings arrive: PREFIX/sensor/SENSOR_ID and PREFIX/gateway/GATEWAY_ID."),
    Setting("mqtt_client_id", "citylifeline",
            "The MQTT client id of the persistent session; keep it across restarts, or the broker forgets "
            "what it holds for the platform."),
    Setting("mqtt_flush_ms", 50.0,
            "MQTT messages that arrive within this many milliseconds are validated and committed as one batch."),
    Setting("mqtt_receive_maximum", 1000,
            "Messages the broker may send before the platform acknowledges them (MQTT 5 receive maximum): "
            "the bound on readings in flight."),
    Setting("nats_url", "nats://127.0.0.1:4222",
            "The NATS JetStream server that feeds the distributed mode's partitions (`serve --cluster`)."),
    Setting("cluster_partitions", 2,
            "Partitions of the city in the distributed mode: one pipeline worker (a Ray actor) each."),
    Setting("cluster_partition_by", "lifeline",
            "What the distributed mode never splits: lifeline (incidents are exactly one process's), district, or "
            "district+lifeline (a province whose districts are cities with networks of their own)."),
    Setting("cluster_schema", "citylifeline",
            "The distributed mode's PostgreSQL schemas are SCHEMA_p0, SCHEMA_p1, … in the database of `db`."),
    Setting("retention_days", 0.0,
            "Raw readings are kept this many days (of data time before the newest reading), then reduced to hourly "
            "statistics (n, min, max, mean; GET /api/v1/readings/hourly), checked hourly; 0 keeps every reading."),
    Setting("admin_token", "",
            "The token of the built-in admin credential (at least 20 characters; `citylifeline token` makes one): "
            "`serve` refuses to start without it, the demo makes one and prints it.  Other credentials are made "
            "by an admin (POST /api/v1/credentials, `citylifeline credential add`)."),
    Setting("rate_limit_per_s", 50.0,
            "Requests a second each credential may make, in bursts of twice that (a credential may have its own "
            "rate); more get HTTP 429 with Retry-After; 0 turns the limit off."),
    Setting("trusted_proxies", "",
            "Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto headers are believed, as a comma-separated "
            "list of addresses or CIDR networks (10.0.0.5,10.1.0.0/16); empty: none, so the address the audit log "
            "records and the wrong-token limit counts is always the connection's own.  List only proxies that "
            "overwrite those headers: a client connecting from a listed address can claim any address."),
    Setting("session_hours", 12.0, "How long a dashboard login lasts (a restart of the server ends every login)."),
    Setting("memory_limit", "2GB",
            "Memory the embedded store may use for queries and caches.  DuckDB keeps the blocks it writes "
            "cached up to this limit, so a server taking in readings grows by about their size on disk "
            "(some 7 bytes a reading) until it levels off near this plus its own memory (0.6 GB with "
            "100,000 sensors)."),
    Setting("map_tile_url", "",
            "Base map tiles for the dashboard, as an XYZ template served inside the operations network "
            "(http://tiles.local/{z}/{x}/{y}.png); empty: the network layers draw on a plain background."),
    Setting("map_tile_attribution", "", "Attribution shown for the base map tiles."),
    Setting("web_vendor_dir", "",
            "Where the dashboard's front-end libraries were installed by npm (a node_modules directory); "
            "empty: citylifeline/web/node_modules, where `make setup` puts them."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Config:
    """The effective settings; build one with ``Config.load``."""

    db: str
    city: str
    host: str
    port: int
    max_payload_bytes: int
    max_batch_readings: int
    max_clock_skew_s: float
    earliest_time: str
    correlate_window_s: float
    correlate_radius_m: float
    escalate_after_s: str
    checkpoint_interval_s: float
    no_data_intervals: float
    stuck_readings: int
    spike_factor: float
    anomaly_threshold: float
    anomaly_corroborate_sensors: int
    analysts: str
    anomaly_corroborate_s: float
    ai_review_deviations: float
    max_incidents_per_asset_hour: int
    writer_queue_batches: int
    mqtt_url: str
    mqtt_topic_prefix: str
    mqtt_client_id: str
    mqtt_flush_ms: float
    mqtt_receive_maximum: int
    nats_url: str
    cluster_partitions: int
    cluster_partition_by: str
    cluster_schema: str
    retention_days: float
    admin_token: str
    rate_limit_per_s: float
    trusted_proxies: str
    session_hours: float
    memory_limit: str
    map_tile_url: str
    map_tile_attribution: str
    web_vendor_dir: str

    @classmethod
    def load(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Config:
        """Defaults, then ``CITYLIFELINE_*`` environment variables, then ``overrides``
        (flags); ``None`` overrides are ignored so CLI flags can be passed straight through."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for s in SETTINGS:
            raw: Any = s.default
            key = "CITYLIFELINE_" + s.name.upper()
            if key in env:
                raw = env[key]
            if overrides.get(s.name) is not None:
                raw = overrides[s.name]
            values[s.name] = _coerce(s, raw)
        unknown = set(overrides) - set(_BY_NAME)
        if unknown:
            raise ConfigError(f"unknown setting(s) {sorted(unknown)}; see docs/settings.md")
        return cls(**values)

    def with_(self, **changes: Any) -> Config:
        """A copy with some settings changed (tests and the demo use this)."""
        return replace(self, **{k: _coerce(_BY_NAME[k], v) for k, v in changes.items()})

    def escalate_after(self) -> dict[int, float]:
        """Seconds before escalation by severity (4 = level I … 1 = level IV)."""
        parts = [p.strip() for p in str(self.escalate_after_s).split(",")]
        if len(parts) != 4:
            raise ConfigError(
                f"escalate_after_s={self.escalate_after_s!r} must list 4 numbers of seconds "
                "for levels I,II,III,IV, e.g. '300,900,1800,3600'")
        try:
            secs = [float(p) for p in parts]
        except ValueError:
            raise ConfigError(f"escalate_after_s={self.escalate_after_s!r}: not numbers") from None
        return {4: secs[0], 3: secs[1], 2: secs[2], 1: secs[3]}

    def trusted_proxy_list(self) -> list[str]:
        """The ``trusted_proxies`` setting as a list of networks (a single address is a /32 or /128)."""
        out = []
        for part in (p.strip() for p in str(self.trusted_proxies).split(",")):
            if not part:
                continue
            try:
                out.append(str(ipaddress.ip_network(part, strict=False)))
            except ValueError:
                raise ConfigError(
                    f"trusted_proxies={self.trusted_proxies!r}: {part!r} is not an IP address or CIDR network; list "
                    "the reverse proxies' addresses or networks, comma-separated (10.0.0.5,10.1.0.0/16), or leave "
                    "it empty to trust none") from None
        return out


def markdown() -> str:
    """The settings table as Markdown (``docs/settings.md`` is this, and a test keeps it so)."""
    rows = [f"| `{s.name}` | `CITYLIFELINE_{s.name.upper()}` | `{s.default}` | {s.help} |" for s in SETTINGS]
    return ("# Settings\n\nEvery setting, its environment variable and default.  A command-line flag (where the "
            "command has one) wins over the environment, which wins over the default.\n\n"
            "| setting | environment variable | default | what it does |\n|---|---|---|---|\n"
            + "\n".join(rows) + "\n")


def _coerce(setting: Setting, raw: Any) -> Any:
    kind = type(setting.default)
    try:
        return kind(raw)
    except (TypeError, ValueError):
        raise ConfigError(
            f"setting {setting.name}={raw!r} is not a valid {kind.__name__}; {setting.help}") from None


assert {f.name for f in fields(Config)} == set(_BY_NAME), "Config and SETTINGS differ"
