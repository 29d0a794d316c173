"""Benchmark: the dashboard with 10,000 sensors on the map, in headless Chromium.

The demo city with 10,000 pressure sensors spread along its water pipes (1 % below a warning
limit, 0.5 % stuck, 1 % silent), served by ``citylifeline serve``.  In the same run and the same
browser, the same measures with the demo city's own 126 sensors, and with Leaflet's standard
way to draw points (one ``L.circleMarker`` each, on a canvas renderer), the peer that
``sensorlayer.js`` replaces:

- page load until the map, layers, sensors and incidents are drawn;
- one redraw of every sensor (ms), and the hit test of a click (ms);
- frame times while the map pans and zooms (rAF intervals: p50, p95, max, dropped frames);
- click on a sensor → its chart drawn (ms); refreshing every sensor's state (fetch + redraw).

    python bench/dashboard.py [--sensors 10000] [--write-docs]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from citylifeline.auth.model import new_token  # noqa: E402
from citylifeline.bench.report import bench_command, machine, replace_section  # noqa: E402
from citylifeline.city import demo_city_path, load_city  # noqa: E402

os.environ.setdefault("CITYLIFELINE_ADMIN_TOKEN", new_token())  # the servers started here inherit it
os.environ["CITYLIFELINE_RATE_LIMIT_PER_S"] = "0"  # a benchmark measures throughput, not the limiter
AUTH = {"Authorization": f"Bearer {os.environ['CITYLIFELINE_ADMIN_TOKEN']}"}
HTTP = httpx.Client(headers=AUTH, timeout=600)
from tests.conftest import free_port  # noqa: E402

MARK = "<!-- bench/dashboard.py -->"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HISTORY_MIN = 30


def make_city(d: Path, n_sensors: int, seed: int = 0) -> Path:
    """The demo city, its sensors replaced by ``n_sensors`` pressure sensors along the water pipes."""
    shutil.copytree(demo_city_path(), d, dirs_exist_ok=True)
    city = load_city(demo_city_path()).city
    pipes = [a for a in city.layers["water"].assets.values() if a.kind == "pipe"]
    lengths = np.array([a.geometry.length for a in pipes])
    rng = np.random.default_rng(seed)
    which = rng.choice(len(pipes), n_sensors, p=lengths / lengths.sum())
    lines = ["id,kind,asset,x,y,interval_s,unit,low_IV,low_III,low_II,low_I,min_duration_s"]
    for i, k in enumerate(which):
        p = pipes[k].geometry.interpolate(rng.random(), normalized=True)
        lines.append(f"S-{i:05d},pressure,{pipes[k].key},{p.x:.1f},{p.y:.1f},60,MPa,0.25,0.2,0.15,0.1,0")
    (d / "sensors_bench.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = yaml.safe_load((d / "city.yaml").read_text(encoding="utf-8"))
    cfg["sensors"] = "sensors_bench.csv"
    (d / "city.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return d


def feed(base: str, n_sensors: int, seed: int = 1) -> int:
    """Half an hour of readings for every sensor, ending now; returns how many were sent."""
    rng = np.random.default_rng(seed)
    now = time.time() // 60 * 60
    low = rng.random(n_sensors) < 0.01
    stuck = rng.random(n_sensors) < 0.005
    silent = rng.random(n_sensors) < 0.01
    sent = 0
    with httpx.Client(headers=AUTH, timeout=60) as client:
        for m in range(HISTORY_MIN):
            t = now - 60 * (HISTORY_MIN - 1 - m)
            v = 0.30 + rng.normal(0, 0.003, n_sensors)
            v[low] = 0.17 + rng.normal(0, 0.002, int(low.sum()))
            v[stuck] = 0.3125
            keep = ~silent if m > 5 else np.ones(n_sensors, bool)
            rows = [{"sensor": f"S-{i:05d}", "t": t, "value": round(float(v[i]), 5), "unit": "MPa"}
                    for i in np.flatnonzero(keep)]
            r = client.post(f"{base}/api/v1/readings", json={"readings": rows})
            r.raise_for_status()
            sent += len(rows)
    return sent


def serve(command: list[str], db: Path, port: int) -> subprocess.Popen[bytes]:
    """``citylifeline COMMAND --db DB --port PORT``, once it answers."""
    proc = subprocess.Popen([sys.executable, "-m", "citylifeline.cli", *command, "--db", str(db), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    for _ in range(120):
        try:
            HTTP.get(f"http://127.0.0.1:{port}/api/v1/status").raise_for_status()
            return proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"citylifeline {' '.join(command)} did not start")


FRAMES_JS = """async ([action, ms]) => {
  const map = cl.mapState.map;
  const gaps = [];
  let last = performance.now(), running = true;
  const tick = (now) => { gaps.push(now - last); last = now; if (running) requestAnimationFrame(tick); };
  requestAnimationFrame((now) => { last = now; requestAnimationFrame(tick); });
  const t0 = performance.now();
  let k = 0;
  while (performance.now() - t0 < ms) {
    if (action === "pan") map.panBy([k % 2 ? -240 : 240, k % 3 ? 60 : -60], {duration: 0.4});
    else map.setZoom(map.getZoom() + (k % 2 ? -1 : 1), {animate: true});
    k += 1;
    await new Promise((r) => setTimeout(r, 450));
  }
  running = false;
  return gaps;
}"""

PEER_JS = """(n) => {
  // Leaflet's standard way: one circleMarker per sensor on a canvas renderer
  const ms = cl.mapState, map = ms.map, sl = ms.sensorLayer;
  map.removeLayer(sl);
  const r = L.canvas({padding: 0.3});
  const colours = ["#22c55e", "#3b82f6", "#facc15", "#f97316", "#ef4444", "#a855f7", "#64748b"];
  const t0 = performance.now();
  const group = L.layerGroup(ms.sensors.map((s, i) => L.circleMarker([s.lat, s.lon],
    {renderer: r, radius: 3, stroke: false, fillOpacity: 1, fillColor: colours[sl.state[i]]}))).addTo(map);
  window.peerGroup = group;
  window.peerRenderer = r;
  return performance.now() - t0;
}"""

PEER_REDRAW_JS = """() => {
  // one full redraw of the renderer (what every moveend costs), and recolouring every marker
  const r = window.peerRenderer, times = [];
  for (let k = 0; k < 20; k += 1) { const t0 = performance.now(); r._update(); r._draw(); times.push(performance.now() - t0); }
  times.sort((a, b) => a - b);
  const t1 = performance.now();
  const colours = ["#22c55e", "#ef4444"];
  let i = 0;
  window.peerGroup.eachLayer((m) => { m.setStyle({fillColor: colours[i++ % 2]}); });
  r._update(); r._draw();
  return {redraw_ms: times[10], recolour_ms: performance.now() - t1};
}"""


def frame_stats(gaps: list[float]) -> dict[str, float]:
    g = sorted(gaps[2:]) or [0.0]
    return {"p50": statistics.median(g), "p95": g[int(0.95 * (len(g) - 1))], "max": g[-1],
            "dropped": sum(1 for x in g if x > 1000 / 60 * 1.5) / len(g)}


def measure(page: Any, base: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    page.goto(base + "/#map")
    page.wait_for_function("window.cl && window.cl.ready", timeout=120_000)
    page.wait_for_function("cl.mapState.stateFetches > 0")
    out: dict[str, Any] = {"load_s": time.perf_counter() - t0, "sensors": page.evaluate("cl.mapState.sensorLayer.n")}
    out["draw_ms"] = page.evaluate("""async () => {
      const sl = cl.mapState.sensorLayer, times = [];
      for (let k = 0; k < 20; k += 1) { sl._draw(); times.push(sl.stats.lastDrawMs); }
      times.sort((a, b) => a - b); return times[10]; }""")
    out["hit_ms"] = page.evaluate("""() => {
      const sl = cl.mapState.sensorLayer, t0 = performance.now();
      for (let k = 0; k < 100; k += 1) sl.nearest({x: 300 + k, y: 300}, 8);
      return (performance.now() - t0) / 100; }""")
    out["pan"] = frame_stats(page.evaluate(FRAMES_JS, ["pan", 4000]))
    out["zoom"] = frame_stats(page.evaluate(FRAMES_JS, ["zoom", 4000]))
    out["click_chart_ms"] = page.evaluate("""async () => {
      const s = cl.mapState.sensors, times = [];
      for (let k = 0; k < 5; k += 1) {
        const t0 = performance.now(); await cl.openSensor(s[(k * 997) % s.length]);
        times.push(performance.now() - t0); }
      times.sort((a, b) => a - b); return times[2]; }""")
    out["recolour_ms"] = page.evaluate("""() => {
      const sl = cl.mapState.sensorLayer, t0 = performance.now();
      const codes = Int8Array.from(sl.ids, (_, i) => i % 2 ? 4 : 0);
      sl.setStates(sl.ids, codes); sl._draw();
      return performance.now() - t0; }""")
    out["refresh_ms"] = page.evaluate("""async () => {
      const t0 = performance.now();
      const r = await fetch('/api/v1/sensor-states'); const s = await r.json();
      cl.mapState.sensorLayer.setStates(s.sensor, s.state); cl.mapState.sensorLayer._draw();
      return performance.now() - t0; }""")
    return out


def measure_peer(page: Any) -> dict[str, Any]:
    build = page.evaluate(PEER_JS, 0)
    page.wait_for_timeout(500)
    return {"build_ms": build, **page.evaluate(PEER_REDRAW_JS), "pan": frame_stats(page.evaluate(FRAMES_JS, ["pan", 4000])),
            "zoom": frame_stats(page.evaluate(FRAMES_JS, ["zoom", 4000]))}


def run(n_sensors: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        big_city = make_city(d / "city", n_sensors)
        ports = free_port(), free_port()
        big = serve(["serve", "--city", str(big_city)], d / "big.duckdb", ports[0])
        demo = serve(["demo"], d / "demo.duckdb", ports[1])  # the demo city with its live twin feed
        try:
            sent = feed(f"http://127.0.0.1:{ports[0]}", n_sensors)
            for _ in range(120):  # the demo's morning incidents
                if len(HTTP.get(f"http://127.0.0.1:{ports[1]}/api/v1/incidents?active=true").json()) >= 3:
                    break
                time.sleep(1)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                            args=CHROMIUM_ARGS)
                results: dict[str, Any] = {"readings_sent": sent}
                for name, port in (("big", ports[0]), ("demo", ports[1])):
                    page = browser.new_page(viewport={"width": 1600, "height": 900})
                    login = page.context.request.post(f"http://127.0.0.1:{port}/api/v1/session",
                                                      data={"token": os.environ["CITYLIFELINE_ADMIN_TOKEN"]})
                    assert login.ok, login.text()
                    results[name] = measure(page, f"http://127.0.0.1:{port}")
                    if name == "big":
                        results["peer"] = measure_peer(page)
                    page.close()
                browser.close()
            return results
        finally:
            for proc in (big, demo):
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=30)


def markdown(r: dict[str, Any], command: str) -> str:
    big, demo, peer = r["big"], r["demo"], r["peer"]

    def fr(x: dict[str, float]) -> str:
        return f"{x['p50']:.1f} / {x['p95']:.1f} / {x['max']:.0f} ms, {100 * x['dropped']:.0f} % dropped"

    return f"""{MARK}
## Dashboard with {big['sensors']:,} sensors on the map

- Command: `{command}`
- Machine: {machine()}; headless Chromium, software rendering (`--disable-gpu`), 1600 × 900
- Date: {time.strftime('%Y-%m-%d')}

| measure | {big['sensors']:,} sensors | demo city ({demo['sensors']} sensors) | ratio |
|---|---|---|---|
| page load until map, layers, sensors and incidents are drawn | {big['load_s']:.2f} s | {demo['load_s']:.2f} s | {big['load_s'] / demo['load_s']:.1f}× |
| redraw every sensor | {big['draw_ms']:.1f} ms | {demo['draw_ms']:.2f} ms | {big['draw_ms'] / max(demo['draw_ms'], 0.01):.0f}× |
| recolour every sensor and redraw | {big['recolour_ms']:.1f} ms | {demo['recolour_ms']:.2f} ms | |
| hit test of a click | {big['hit_ms']:.2f} ms | {demo['hit_ms']:.3f} ms | |
| frames while panning (p50 / p95 / max) | {fr(big['pan'])} | {fr(demo['pan'])} | |
| frames while zooming (p50 / p95 / max) | {fr(big['zoom'])} | {fr(demo['zoom'])} | |
| click a sensor → its chart drawn | {big['click_chart_ms']:.0f} ms | {demo['click_chart_ms']:.0f} ms | |
| refresh every sensor's state (fetch + redraw) | {big['refresh_ms']:.0f} ms | {demo['refresh_ms']:.0f} ms | {big['refresh_ms'] / max(demo['refresh_ms'], 0.01):.1f}× |

The peer, in the same page and browser, is Leaflet's own way: one `L.circleMarker` for each of the
{big['sensors']:,} sensors on a canvas renderer.

| measure | `sensorlayer.js` | `L.circleMarker` × {big['sensors']:,} | ratio |
|---|---|---|---|
| build the layer | (in page load) | {peer['build_ms']:.0f} ms | |
| one full redraw (every pan or zoom ends with one) | {big['draw_ms']:.1f} ms | {peer['redraw_ms']:.1f} ms | {peer['redraw_ms'] / max(big['draw_ms'], 0.01):.1f}× |
| recolour every sensor and redraw | {big['recolour_ms']:.1f} ms | {peer['recolour_ms']:.1f} ms | {peer['recolour_ms'] / max(big['recolour_ms'], 0.01):.1f}× |
| frames while panning | {fr(big['pan'])} | {fr(peer['pan'])} | |
| frames while zooming | {fr(big['zoom'])} | {fr(peer['zoom'])} | |

A frame is "dropped" when it took more than 1.5 × 16.7 ms.  {r['readings_sent']:,} readings were
posted to the big city first (1 % of its sensors below a warning limit, 0.5 % stuck, 1 % silent).
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sensors", type=int, default=10_000)
    ap.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args()
    r = run(args.sensors)
    print(json.dumps(r, indent=1))
    md = markdown(r, bench_command(args.write_docs))
    print(md)
    if args.write_docs:
        replace_section(MARK, md)


if __name__ == "__main__":
    main()
