"""Side-by-side benchmark: our gateway vs nginx as a reverse proxy, same machine.

Starts a fast backend (nginx returning a fixed body), nginx as a reverse proxy with one
worker and keep-alive upstreams, and `rollouts gateway` with one worker; drives each
with wrk (50 connections, 10 s by default), interleaving runs, for a plain request and
a browser-like request of ~12 headers, with a route table of 1 and of 1,000 routes,
in 3 rounds by default (nginx and ours back to back in each: on a shared machine one
round's ratio moves by a few hundredths). Prints req/s, p50, p99 and the ratios
ours/nginx, averaged and per round. Then measures weight accuracy over
10,000 requests at 90/10 and 99/1, and the time from a route change on disk to the
new split being served. With --references, two minimal uvloop proxies
(reference_proxies.py: bare httptools, and raw byte forwarding) run in the same
rounds with 1 route, to show the floor any uvloop-based proxy has on this machine.

    python benchmarks/gateway.py [--duration 10] [--rounds 3] [--connections 50]
                                 [--references]

Needs nginx and wrk (Debian: apt-get install -y nginx-light wrk). Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

BROWSER_HEADERS = [
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36",
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8",
    "Accept-Language: en-US,en;q=0.9,de;q=0.8",
    "Accept-Encoding: gzip, deflate, br",
    "Cache-Control: no-cache",
    "Pragma: no-cache",
    "Referer: https://app.example.com/dashboard",
    "Cookie: session=3f2a9c1e7b; theme=dark; _ga=GA1.2.123456789.1700000000",
    "Sec-Fetch-Dest: document",
    "Sec-Fetch-Mode: navigate",
    "Upgrade-Insecure-Requests: 1",
]


HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def start_nginx(workdir: Path, name: str, body: str) -> subprocess.Popen[bytes]:
    d = workdir / name
    d.mkdir()
    conf = d / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  keepalive_requests 1000000;
  {body}
}}
""")
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(d)])
    return proc


def backend_conf(port: int) -> str:
    return f"""server {{ listen 127.0.0.1:{port} reuseport; location / {{
        default_type text/plain; return 200 "hello from the backend\\n"; }} }}"""


def nginx_proxy_conf(port: int, backend: int, routes: int) -> str:
    locs = "\n".join(f"location /r{i}/ {{ proxy_pass http://be; }}" for i in range(routes))
    return f"""
upstream be {{ server 127.0.0.1:{backend}; keepalive 64; }}
server {{
  listen 127.0.0.1:{port};
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header Host $host;
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
  proxy_set_header X-Forwarded-Proto $scheme;
  {locs}
}}"""


def gateway_manifests(port: int, backends: dict[str, int], routes: int,
                      weights: dict[str, int] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    objs: list[dict[str, Any]] = [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
         "metadata": {"name": "rollouts"},
         "spec": {"controllerName": "rollouts.dev/gateway-controller"}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
         "metadata": {"name": "bench"}, "spec": {"gatewayClassName": "rollouts",
         "listeners": [{"name": "http", "port": port, "protocol": "HTTP"}]}},
    ]  # fmt: skip
    for name, bport in backends.items():
        objs += [
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
             "spec": {"ports": [{"name": "http", "port": 80}]}},
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": {"name": name, "labels": {"kubernetes.io/service-name": name}},
             "ports": [{"name": "http", "port": bport}],
             "endpoints": [{"addresses": ["127.0.0.1"]}]},
        ]  # fmt: skip
    refs = [{"name": n, "port": 80, "weight": (weights or {}).get(n, 1)} for n in backends]
    for i in range(routes):
        objs.append({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                     "metadata": {"name": f"r{i}"},
                     "spec": {"parentRefs": [{"name": "bench"}], "rules": [{
                         "matches": [{"path": {"type": "PathPrefix", "value": f"/r{i}/"}}],
                         "backendRefs": refs}]}})  # fmt: skip
    return objs


def write_manifests(d: Path, objs: list[dict[str, Any]]) -> None:
    tmp = d / "routes.yaml.tmp"
    tmp.write_text(yaml.safe_dump_all(objs))
    os.replace(tmp, d / "routes.yaml")


def start_gateway(cfg: Path, admin: int) -> subprocess.Popen[bytes]:
    code = "from rollouts.cli.gateway import gateway; gateway()"
    return subprocess.Popen([sys.executable, "-c", code, "--config", str(cfg), "--host",
                             "127.0.0.1", "--admin-port", str(admin), "--workers", "1",
                             "--log-level", "warning"])  # fmt: skip


_LAT = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the given processes (from /proc), in seconds."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def nginx_workers(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def wrk(port: int, path: str, headers: list[str], conns: int, duration: int,
        pids: list[int] | None = None) -> dict[str, float]:  # fmt: skip
    """One wrk run; with ``pids``, also the proxy's CPU time per request (microseconds)."""
    c0 = cpu_seconds(pids) if pids else 0.0
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--latency"]
    for hdr in headers:
        cmd += ["-H", hdr]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    c1 = cpu_seconds(pids) if pids else 0.0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    lat = {}
    for pct, val, unit in _LAT.findall(out):
        lat[pct] = float(val) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    total = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": lat["50"], "p99": lat["99"],
            "cpu_us": (c1 - c0) / total * 1e6 if pids and total else float("nan"),
            "non2xx": float(errors.group(1)) if errors else 0.0}  # fmt: skip


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def weight_accuracy(port: int, n: int) -> Counter[str]:
    import aiohttp

    got: Counter[str] = Counter()
    async with aiohttp.ClientSession() as s:

        async def worker(k: int) -> None:
            for _ in range(k):
                async with s.get(f"http://127.0.0.1:{port}/r0/") as r:
                    got[r.headers.get("x-backend", "?")] += 1
                    await r.read()

        await asyncio.gather(*(worker(n // 10) for _ in range(10)))
    return got


async def reload_latency(cfg: Path, port: int, backends: dict[str, int]) -> float:
    """Seconds from an atomic file rename to the first answer from the new backend."""
    import aiohttp

    async with aiohttp.ClientSession() as s:
        write_manifests(cfg, gateway_manifests(port, backends, 1, {"stable": 1, "canary": 0}))
        await asyncio.sleep(0.5)
        write_manifests(cfg, gateway_manifests(port, backends, 1, {"stable": 0, "canary": 1}))
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 5:
            async with s.get(f"http://127.0.0.1:{port}/r0/") as r:
                if r.headers.get("x-backend") == "canary":
                    return time.perf_counter() - t0
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--references", action="store_true",
                    help="also measure two minimal uvloop proxies (reference_proxies.py)"
                         " with 1 route, to show the floor any uvloop proxy has here")  # fmt: skip
    args = ap.parse_args()
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install -y nginx-light wrk")
    work = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        be_port = free_port()
        procs.append(start_nginx(work, "backend", backend_conf(be_port)))
        wait_port(be_port)
        results: dict[tuple[str, str, int], list[dict[str, float]]] = {}
        for routes in (1, 1000):
            np_port, gw_port, admin = free_port(), free_port(), free_port()
            nginx = start_nginx(work, f"proxy{routes}", nginx_proxy_conf(np_port, be_port, routes))
            cfg = work / f"gw{routes}"
            cfg.mkdir()
            write_manifests(cfg, gateway_manifests(gw_port, {"be": be_port}, routes))
            ours = start_gateway(cfg, admin)
            procs += [nginx, ours]
            wait_port(np_port)
            wait_port(gw_port)
            contenders = [("nginx", np_port, nginx_workers(nginx.pid)),
                          ("ours", gw_port, [ours.pid])]  # fmt: skip
            refs: list[subprocess.Popen[bytes]] = []
            if args.references and routes == 1:
                for kind in ("bare", "raw"):
                    rp = free_port()
                    script = str(HERE / "reference_proxies.py")
                    refs.append(subprocess.Popen([sys.executable, script, kind, str(rp),
                                                  str(be_port)]))  # fmt: skip
                    wait_port(rp)
                    contenders.append((kind, rp, [refs[-1].pid]))
                procs += refs
            path = f"/r{routes - 1}/index.html"
            for label, hdrs in (("plain", []), ("browser", BROWSER_HEADERS)):
                for _, port, _ in contenders:
                    wrk(port, path, hdrs, args.connections, 2)  # warm-up
                for _ in range(args.rounds):
                    for who, port, pids in contenders:
                        r = wrk(port, path, hdrs, args.connections, args.duration, pids)
                        results.setdefault((who, label, routes), []).append(r)
                        print(f"  {who:5} {label:7} routes={routes:<5} {r['rps']:9.0f} req/s "
                              f"p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  "
                              f"CPU {r['cpu_us']:5.1f} us/req"
                              f"{'  non-2xx ' + str(int(r['non2xx'])) if r['non2xx'] else ''}",
                              flush=True)  # fmt: skip
            for proc in [ours, nginx, *refs]:
                stop(proc)
        print("\nscenario                 nginx req/s   ours req/s  ratio  nginx p50/p99 ms"
              "   ours p50/p99 ms  p99 ratio  CPU us/req nginx/ours   ratio per round")  # fmt: skip
        for routes in (1, 1000):
            for label in ("plain", "browser"):
                n = results[("nginx", label, routes)]
                o = results[("ours", label, routes)]
                nr = sum(x["rps"] for x in n) / len(n)
                orr = sum(x["rps"] for x in o) / len(o)
                n50 = sum(x["p50"] for x in n) / len(n)
                n99 = sum(x["p99"] for x in n) / len(n)
                o50 = sum(x["p50"] for x in o) / len(o)
                o99 = sum(x["p99"] for x in o) / len(o)
                ncpu = sum(x["cpu_us"] for x in n) / len(n)
                ocpu = sum(x["cpu_us"] for x in o) / len(o)
                # nginx and ours alternate within a round, so each round's ratio is a fair
                # pair even when the machine's speed drifts between rounds
                per_round = " ".join(f"{b['rps'] / a['rps']:.2f}" for a, b in zip(n, o,
                                                                                  strict=True))
                print(
                    f"{label:8} routes={routes:<5}  {nr:11.0f}  {orr:11.0f}  {orr / nr:5.2f}"
                    f"  {n50:6.2f}/{n99:6.2f}    {o50:6.2f}/{o99:6.2f}     {o99 / n99:5.2f}"
                    f"      {ncpu:5.1f}/{ocpu:5.1f}   {per_round}"
                )
                for kind in ("bare", "raw"):
                    ref = results.get((kind, label, routes))
                    if ref:
                        rr = sum(x["rps"] for x in ref) / len(ref)
                        r99 = sum(x["p99"] for x in ref) / len(ref)
                        rcpu = sum(x["cpu_us"] for x in ref) / len(ref)
                        print(f"  reference {kind:5} {label:8} {rr:9.0f} req/s  "
                              f"ratio {rr / nr:5.2f}  p99 {r99:6.2f} ms  "
                              f"CPU {rcpu:5.1f} us/req")  # fmt: skip
        # ---- weights and reload, against echo backends that say who answered
        s_port, c_port, gw_port, admin = free_port(), free_port(), free_port(), free_port()
        for name, p in (("stable", s_port), ("canary", c_port)):
            procs.append(subprocess.Popen([sys.executable, "-m", "rollouts.gateway.echo",
                                           "--port", str(p), "--name", name]))  # fmt: skip
        backends = {"stable": s_port, "canary": c_port}
        cfg = work / "weights"
        cfg.mkdir()
        write_manifests(cfg, gateway_manifests(gw_port, backends, 1, {"stable": 90, "canary": 10}))
        ours = start_gateway(cfg, admin)
        procs.append(ours)
        for p in (s_port, c_port, gw_port):
            wait_port(p)
        print()
        for st, ca in ((90, 10), (99, 1)):
            write_manifests(cfg, gateway_manifests(gw_port, backends, 1,
                                                   {"stable": st, "canary": ca}))  # fmt: skip
            time.sleep(0.5)
            got = asyncio.run(weight_accuracy(gw_port, 10_000))
            other = sum(got.values()) - got["stable"] - got["canary"]
            print(
                f"weights {st}/{ca} over 10000 requests: stable {got['stable']} "
                f"canary {got['canary']} other {other}"
            )
        lat = [asyncio.run(reload_latency(cfg, gw_port, backends)) for _ in range(5)]
        print("route change on disk -> new split served: "
              + ", ".join(f"{x * 1000:.0f} ms" for x in lat))  # fmt: skip
    finally:
        for p in procs:
            if p.poll() is None:
                stop(p)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
