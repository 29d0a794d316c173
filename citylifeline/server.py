"""Run the HTTP server (uvicorn) over an engine."""

from __future__ import annotations

import uvicorn

from .api import create_app
from .engine import Engine
from .errors import ConfigError
from .settings import Config


def make_server(config: Config, engine: Engine | None = None) -> tuple[Engine, uvicorn.Server]:
    """An engine and a uvicorn server for it (not started).

    uvicorn would believe X-Forwarded-For from 127.0.0.1 by default (and from FORWARDED_ALLOW_IPS):
    any local process could then choose the address the audit log records and escape the per-address
    wrong-token limit.  Here the headers are read only from the ``trusted_proxies`` setting's
    addresses, and not at all when it is empty."""
    proxies = config.trusted_proxy_list()  # a wrong entry is refused before anything starts
    engine = engine or Engine(config)
    app = create_app(engine)
    server = uvicorn.Server(uvicorn.Config(app, host=config.host, port=config.port, log_level="warning",
                                           access_log=False, ws_ping_interval=20, proxy_headers=bool(proxies),
                                           forwarded_allow_ips=proxies))
    return engine, server


def serve(config: Config) -> None:
    """Serve until interrupted; the engine checkpoints and closes the store on the way out."""
    require_admin(config)
    engine, server = make_server(config)
    n = int(engine.registry.active.sum())
    mqtt = f"\n  MQTT {config.mqtt_url.rpartition('@')[2]}: {config.mqtt_topic_prefix}/sensor/ID, " \
           f"{config.mqtt_topic_prefix}/gateway/ID" if config.mqtt_url else ""
    store = config.db if not config.db.startswith("postgres") else "PostgreSQL " + config.db.rpartition("@")[2]
    print(f"CityLifeline serving {engine.city.name}: {n} sensors, store {store}{mqtt}\n{addresses(config)}", flush=True)
    server.run()


def require_admin(config: Config) -> None:
    """Refuse to serve without the admin_token setting: a platform nobody can administer, or anybody
    can, is no use."""
    if not config.admin_token:
        raise ConfigError("serve needs an admin credential: set CITYLIFELINE_ADMIN_TOKEN (at least 20 characters; "
                          "`citylifeline token` prints a good one) and keep it secret")


def addresses(config: Config) -> str:
    """Where the dashboard and the API are."""
    return (f"  http://{config.host}:{config.port}/        dashboard (the one map)\n"
            f"  http://{config.host}:{config.port}/docs    API (OpenAPI)")
