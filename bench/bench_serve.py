"""Prediction server benchmarks.

(b) ``serve-load``: a load test of ``POST /v1/races/predict`` from a second process on loopback.
    ``stagewise serve`` runs with 1 and then 2 uvicorn workers (``STAGEWISE_BENCH_SERVE_WORKERS``,
    default ``1,2``), logging to a fresh PostgreSQL database, the rollout at 50 % (both models
    answer). A load generator in its own process (pre-encoded HTTP/1.1 keep-alive requests on asyncio
    protocols; ``STAGEWISE_BENCH_SERVE_CLIENT=httpx`` for the earlier asyncio + httpx client) keeps
    ``STAGEWISE_BENCH_SERVE_CONCURRENCY`` requests in flight (default 16) for
    ``STAGEWISE_BENCH_SERVE_SECONDS`` (default 20), every request a distinct race. It reports
    throughput, p50/p90/p99 latency and errors; after SIGTERM (which drains the ledger queue) the
    ledger's row count is compared with the number of answered requests.

The models are the production defaults (LightGBM 100 trees, XGBoost 100, RandomForest 100, one
thread each) trained on 20 simulated race days. PostgreSQL: ``STAGEWISE_TEST_PG_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); a database is created and dropped per run.

Run: ``.venv/bin/python bench/run.py serve``. To compare with an earlier commit in the same run (the
machine may be shared: only same-run ratios mean anything), export its ``src`` and point
``STAGEWISE_BENCH_SERVE_BEFORE_SRC`` at it (``STAGEWISE_BENCH_SERVE_BEFORE_REF`` names it in the table):
``git archive REF src | tar -x -C /tmp/before``. The load generator alone:
``python bench/bench_serve.py --loadgen URL SECONDS CONCURRENCY PAYLOADS.json OUT.json [raw|httpx]``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("STAGEWISE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECONDS = float(os.environ.get("STAGEWISE_BENCH_SERVE_SECONDS", "20"))
CONCURRENCY = int(os.environ.get("STAGEWISE_BENCH_SERVE_CONCURRENCY", "16"))
CLIENT = os.environ.get("STAGEWISE_BENCH_SERVE_CLIENT", "raw")
"""``raw`` (pre-encoded requests on asyncio protocols) or ``httpx`` (the earlier, costlier client)."""
WORKERS = tuple(int(w) for w in os.environ.get("STAGEWISE_BENCH_SERVE_WORKERS", "1,2").split(","))


# ----------------------------------------------------------------------------- load generator process
# Two clients. "raw" (the default): one asyncio Protocol per connection, HTTP/1.1 keep-alive requests
# pre-encoded once (only the race id's digits change), a response parser that reads the status line and
# Content-Length and nothing else; its cost per request is a few tens of microseconds, so on a 2-core
# machine it leaves the CPU to the server. "httpx" (STAGEWISE_BENCH_SERVE_CLIENT=httpx): the earlier
# asyncio + httpx client, about 1 ms of client CPU per request.
RACE_ID_DIGITS = 7


def _race_id(i: int) -> str:
    return f"load-{i:0{RACE_ID_DIGITS}d}"


class _Requests:
    """Pre-encoded ``POST /v1/races/predict`` requests: request ``i`` is payload ``i % n`` as race ``i``."""

    def __init__(self, host: str, port: int, payloads: list[dict[str, Any]]) -> None:
        marker = "#" * RACE_ID_DIGITS
        self._parts: list[tuple[bytes, bytes]] = []
        for payload in payloads:
            body = json.dumps(payload | {"race_id": f"load-{marker}"}, separators=(",", ":")).encode()
            head = (
                f"POST /v1/races/predict HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            before, after = (head + body).split(marker.encode(), 1)
            self._parts.append((before, after))

    def __call__(self, i: int) -> bytes:
        before, after = self._parts[i % len(self._parts)]
        return before + b"%07d" % i + after


class _Connection(asyncio.Protocol):
    """One keep-alive connection that sends the next request as soon as the previous answer is complete."""

    def __init__(self, shared: _LoadState) -> None:
        self.shared = shared
        self.buffer = b""
        self.started = 0.0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.in_flight = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        if time.perf_counter() >= self.shared.end:
            self.transport.close()
            return
        self.in_flight = True
        self.started = time.perf_counter()
        self.transport.write(self.shared.request(self.shared.take()))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < head_end + 4 + length:
                return
            status = head[9:12].decode()
            self.buffer = self.buffer[head_end + 4 + length :]
            self.in_flight = False
            self.shared.answered(status, time.perf_counter() - self.started)
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.in_flight:
            self.shared.error(type(exc).__name__ if exc else "ConnectionClosed")
        if not self.done.done():
            self.done.set_result(None)


class _LoadState:
    def __init__(self, request: _Requests, end: float) -> None:
        self.request = request
        self.end = end
        self.next_index = 0
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}

    def take(self) -> int:
        i = self.next_index
        self.next_index += 1
        return i

    def answered(self, status: str, latency: float) -> None:
        if status == "200":
            self.latencies.append(latency)
        else:
            self.error(status)

    def error(self, name: str) -> None:
        self.errors[name] = self.errors.get(name, 0) + 1


async def _load_raw(
    url: str, seconds: float, concurrency: int, payloads: list[dict[str, Any]]
) -> dict[str, Any]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    began = time.perf_counter()
    state = _LoadState(_Requests(host, port, payloads), began + seconds)

    async def connection() -> None:
        while time.perf_counter() < state.end:  # a connection the server closed is opened again
            try:
                _, protocol = await loop.create_connection(lambda: _Connection(state), host, port)
            except OSError as exc:
                state.error(type(exc).__name__)
                await asyncio.sleep(0.1)
                continue
            try:
                await asyncio.wait_for(protocol.done, timeout=state.end - time.perf_counter() + 30.0)
            except TimeoutError:
                state.error("Timeout")
                assert protocol.transport is not None
                protocol.transport.abort()
                return

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    return {
        "answered": len(state.latencies),
        "latencies": state.latencies,
        "errors": state.errors,
        "elapsed": elapsed,
    }


async def _load_httpx(
    url: str, seconds: float, concurrency: int, payloads: list[dict[str, Any]]
) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    next_index = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30.0, limits=limits) as client:
        end = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal next_index
            while time.perf_counter() < end:
                body = payloads[next_index % len(payloads)] | {"race_id": _race_id(next_index)}
                next_index += 1
                started = time.perf_counter()
                try:
                    answer = await client.post("/v1/races/predict", json=body)
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    continue
                if answer.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors[str(answer.status_code)] = errors.get(str(answer.status_code), 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {"answered": len(latencies), "latencies": latencies, "errors": errors, "elapsed": elapsed}


def _loadgen(argv: list[str]) -> None:
    url, seconds, concurrency, payload_file, out, *client = argv
    payloads = json.loads(Path(payload_file).read_text())
    load = _load_httpx if client == ["httpx"] else _load_raw
    cpu = time.process_time()
    result = asyncio.run(load(url, float(seconds), int(concurrency), payloads))
    result["client_cpu_s"] = time.process_time() - cpu
    Path(out).write_text(json.dumps(result))


# ----------------------------------------------------------------------------- set-up
def _registry(root: Path) -> None:
    from stagewise.data import simulate_races
    from stagewise.features.races import race_entry_features
    from stagewise.models import ModelRegistry, ProductionEnsemble

    races = simulate_races("2025-01-01", "2025-01-20", seed=0)
    X, y = race_entry_features(races), (races["finish_position"] == 1).fillna(False).astype(int)
    registry = ModelRegistry(root)
    registry.promote(registry.save(ProductionEnsemble(random_state=0, n_jobs=1).fit(X, y)))
    registry.set_alias("challenger", registry.save(ProductionEnsemble(random_state=1, n_jobs=1).fit(X, y)))


def _payloads(n: int = 300) -> list[dict[str, Any]]:
    from stagewise.data import simulate_races
    from stagewise.serve.schemas import RaceEntryIn

    races = simulate_races("2025-03-01", "2025-03-03", seed=1)
    out = []
    for race_id, race in list(races.groupby("race_id"))[:n]:
        first = race.iloc[0]
        entries = race.sort_values("pit")[list(RaceEntryIn.model_fields)]
        out.append(
            {
                "race_id": str(race_id),
                "race_date": first["race_date"].date().isoformat(),
                "venue_code": int(first["venue_code"]),
                "race_number": int(first["race_number"]),
                "entries": json.loads(entries.to_json(orient="records")),
            }
        )
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _database(action: str, name: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if action == "create":
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        else:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def _count(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        n = int(conn.execute(text("SELECT count(*) FROM race_predictions")).scalar() or 0)
    engine.dispose()
    return n


PARITY_RACES = 12
"""Races whose answers the bare peer must reproduce exactly (the load generator's first race ids)."""


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and all its descendants (Linux ``/proc``)."""
    total, todo = 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _server(
    kind: str, workers: int, port: int, models: Path, config: Path, db_url: str
) -> subprocess.Popen[bytes]:
    if kind == "bare":
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "_bare_app:create",
            "--factory",
            "--app-dir",
            str(Path(__file__).resolve().parent),
            "--workers",
            str(workers),
        ]
        env = os.environ | {"STAGEWISE_BARE_MODELS": str(models)}
    else:
        exe = str(Path(sys.executable).parent / "stagewise")
        command = [
            exe,
            "serve",
            "--workers",
            str(workers),
            "--models",
            str(models),
            "--db",
            db_url,
            "--config",
            str(config),
        ]
        env = dict(os.environ)
        if kind == "before":  # the same command on the code of an earlier commit (see main())
            env["PYTHONPATH"] = os.environ["STAGEWISE_BENCH_SERVE_BEFORE_SRC"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)


def _answers(base: str, payloads: list[dict[str, Any]]) -> list[tuple[list[int], list[float]]]:
    """(order, scores best first) of the first races the load generator sends, as the server answers."""
    import httpx

    out = []
    for i in range(PARITY_RACES):
        body = payloads[i % len(payloads)] | {"race_id": _race_id(i)}
        answer = httpx.post(f"{base}/v1/races/predict", json=body, timeout=30).json()
        if "boats" in answer:  # stagewise: only the champion's answers are comparable
            scores = [b["score"] for b in answer["boats"]] if answer["model"]["role"] == "champion" else []
        else:
            scores = answer["scores"]
        out.append((answer["predicted_order"], scores))
    return out


def _run(
    kind: str, workers: int, models: Path, config: Path, payload_file: Path, work: Path
) -> dict[str, Any]:
    name = f"sw_bench_serve_{secrets.token_hex(4)}"
    logs = kind != "bare"
    db_url = _database("create", name) if logs else ""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _server(kind, workers, port, models, config, db_url)
    try:
        import httpx

        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not become ready: {server.stdout.read().decode()[-2000:]}")  # type: ignore[union-attr]
            time.sleep(0.3)
        # the same race ids the load generator starts with: the ledger keeps one row per race and model
        parity = _answers(base, json.loads(payload_file.read_text()))
        out = work / f"load-{kind}-{workers}.json"
        cpu_before = _cpu_seconds(server.pid)
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--loadgen",
                base,
                str(SECONDS),
                str(CONCURRENCY),
                str(payload_file),
                str(out),
                CLIENT,
            ],
            check=True,
        )
        result = json.loads(out.read_text())
        result["server_cpu_s"] = _cpu_seconds(server.pid) - cpu_before
        result["parity"] = parity
        result["loadavg"] = os.getloadavg()[0]
        if logs:
            result["server"] = _server_times(httpx.get(f"{base}/metrics", timeout=10).text)
        server.send_signal(signal.SIGTERM)
        log = server.communicate(timeout=120)[0].decode()
        result["exit_code"] = server.returncode
        if logs:
            result["logged"] = _count(db_url)
            result["drained_lines"] = log.count("ledger queue drained (0 not written)")
        return result
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        if logs:
            _database("drop", name)


def _server_times(metrics: str) -> dict[str, float]:
    """Mean server-side request time and model time (ms) from one worker's /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    sums = {"request_sum": 0.0, "request_count": 0.0, "model_sum": 0.0, "model_count": 0.0}
    for family in text_string_to_metric_families(metrics):
        for s in family.samples:
            if s.name.startswith("stagewise_http_request_duration_seconds_") and (
                s.labels.get("route") == "/v1/races/predict"
            ):
                key = "request_" + s.name.rsplit("_", 1)[1]
            elif s.name.startswith("stagewise_prediction_duration_seconds_"):
                key = "model_" + s.name.rsplit("_", 1)[1]
            else:
                continue
            if key in sums:
                sums[key] += s.value
    return {
        "request_ms": 1000 * sums["request_sum"] / max(sums["request_count"], 1.0),
        "model_ms": 1000 * sums["model_sum"] / max(sums["model_count"], 1.0),
    }


def _rate(r: dict[str, Any]) -> float:
    return float(r["answered"] / r["elapsed"])


def _cpu_ms(r: dict[str, Any]) -> float:
    """Server CPU (all its processes) per answered request, in ms: robust to other jobs on the machine."""
    return float(1000 * r["server_cpu_s"] / max(r["answered"], 1))


def _row(label: str, workers: int, r: dict[str, Any]) -> str:
    lat = np.asarray(r["latencies"]) * 1000
    p50, p90, p99 = (float(np.percentile(lat, q)) for q in (50, 90, 99))
    errors = sum(r["errors"].values())
    if "logged" in r:
        logged, ok = f"{r['logged']:,}", "yes" if r["logged"] == r["answered"] else "NO"
        server = f"{r['server']['request_ms']:.1f} | {r['server']['model_ms']:.2f}"
    else:
        logged, ok, server = "-", "-", "- | -"
    return (
        f"| {label} | {workers} | {r['answered']:,} | {_rate(r):.0f} | {_cpu_ms(r):.2f} "
        f"| {1000 * r['client_cpu_s'] / max(r['answered'], 1):.2f} "
        f"| {p50:.1f} | {p90:.1f} | {p99:.1f} "
        f"| {errors} | {logged} | {ok} | {server} | {r['loadavg']:.1f} |"
    )


def _parity(results: dict[tuple[str, int], dict[str, Any]]) -> str:
    """The bare peer must answer what the server's champion answers (same model, same payload)."""
    bare = next(r["parity"] for (kind, _), r in sorted(results.items()) if kind == "bare")
    compared = 0
    for kind_workers, r in results.items():
        for (order, scores), (bare_order, bare_scores) in zip(r["parity"], bare, strict=True):
            if not scores:
                continue  # answered by the challenger
            if (
                order != bare_order
                or max(abs(a - b) for a, b in zip(scores, bare_scores, strict=True)) > 1e-12
            ):
                raise RuntimeError(
                    f"{kind_workers}: the bare peer answers {bare_order} {bare_scores}, "
                    f"the server {order} {scores}: not the same model on the same payload"
                )
            compared += 1
    return (
        f"{compared} champion answers of the servers were checked equal to the bare peer's (order and scores)"
    )


def _ratios(results: dict[tuple[str, int], dict[str, Any]], w: int) -> str:
    now, bare = results[("stagewise", w)], results[("bare", w)]
    before = results.get(("before", w))
    cells = [
        f"{_rate(now):.0f}",
        f"{_rate(bare):.0f}",
        f"{_rate(now) / _rate(bare):.2f}x",
        f"{_cpu_ms(bare) / _cpu_ms(now):.2f}x",
    ]
    if before is None:
        cells += ["-"] * 4
    else:
        cells += [
            f"{_rate(before):.0f}",
            f"{_rate(now) / _rate(before):.2f}x",
            f"{_cpu_ms(before) / _cpu_ms(now):.2f}x",
            f"{_rate(before) / _rate(bare):.2f}x",
        ]
    return f"| {w} | " + " | ".join(cells) + " |"


CLIENT_TEXT = {
    "raw": "pre-encoded HTTP/1.1 keep-alive requests on asyncio protocols, "
    "well under 0.1 ms of client CPU each",
    "httpx": "asyncio + httpx, about 1 ms of client CPU per request",
}


def main() -> None:
    from _report import write_section

    before_ref = os.environ.get("STAGEWISE_BENCH_SERVE_BEFORE_REF", "")
    kinds = (
        ("before", "stagewise", "bare")
        if os.environ.get("STAGEWISE_BENCH_SERVE_BEFORE_SRC")
        else ("stagewise", "bare")
    )
    if CLIENT not in ("raw", "httpx"):
        raise SystemExit(f"STAGEWISE_BENCH_SERVE_CLIENT={CLIENT!r}: 'raw' or 'httpx'")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print("training the champion and challenger (production defaults) ...", flush=True)
        _registry(work / "models")
        from stagewise.rollout import GradualRollout

        config = work / "rollout_config.json"
        GradualRollout(config, actor="bench").add_feature("challenger_model", "50%", reason="load test")
        payload_file = work / "payloads.json"
        payload_file.write_text(json.dumps(_payloads()))
        results: dict[tuple[str, int], dict[str, Any]] = {}
        for workers in WORKERS:  # interleaved, so that the machine's load drifts over every server alike
            for kind in kinds:
                print(
                    f"load test: {kind}, {workers} worker(s), {SECONDS:.0f} s, {CONCURRENCY} in flight ...",
                    flush=True,
                )
                results[(kind, workers)] = _run(kind, workers, work / "models", config, payload_file, work)
    saved = os.environ.get("STAGEWISE_BENCH_SERVE_SAVE")
    if saved:
        Path(saved).write_text(json.dumps({f"{k}:{w}": r for (k, w), r in results.items()}))
    label = {
        "before": f"stagewise before ({before_ref or 'earlier commit'})",
        "stagewise": "stagewise",
        "bare": "bare",
    }
    rows = [_row(label[kind], w, r) for (kind, w), r in sorted(results.items(), key=lambda kv: kv[0][1])]
    rate = {w: _rate(results[("stagewise", w)]) for w in WORKERS}
    body = (
        f"`POST /v1/races/predict` under load from a second process on loopback ({CLIENT_TEXT[CLIENT]}, "
        f"{CONCURRENCY} requests in flight, {SECONDS:.0f} s per row, every request a new race), "
        "`stagewise serve` logging to PostgreSQL, rollout at 50 % (champion and challenger both answer), "
        "production-default ensembles (100 trees per family, 1 thread). Latency is client-side, in ms. "
        "`logged` is the ledger's row count after SIGTERM drained the queue. `server ms/request` is the "
        "mean wall time inside the server per race request and `model ms/scoring` the mean wall time "
        "of one model's `predict_proba` (from `/metrics`, all workers; with 16 requests in flight these "
        "include waiting for the GIL and the CPU). `CPU ms/req` is the CPU time of the server's processes "
        "(all workers, and the ledger writer thread) per answered request: unlike req/s it hardly moves "
        "when other jobs share the machine. `client CPU ms/req` is the load generator's, on the same cores. "
        "`load avg` is the machine's 1-minute load average at the end "
        "of the row (2 cores: above 2 means other jobs were competing).\n\n"
        "The peer, `bare`, is a FastAPI endpoint on the same uvicorn that calls the same model on the same "
        "payload and nothing else (`bench/_bare_app.py`: JSON body as a dict, the 18 race features with "
        "numpy, the champion's compiled scorer; no routing, validation, ledger, metrics or middleware). "
        + (
            f"`stagewise before` is the same command on the code of {before_ref} "
            "(`STAGEWISE_BENCH_SERVE_BEFORE_SRC`), run in the same session, interleaved with the others. "
            if "before" in kinds
            else ""
        )
        + f"{_parity(results)}.\n\n"
        "| server | workers | answered | req/s | CPU ms/req | client CPU ms/req | p50 | p90 | p99 | errors "
        "| logged | logged == answered | server ms/request | model ms/scoring | load avg |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|---:|---:|\n"
        + "\n".join(rows)
        + "\n\n| workers | stagewise req/s | bare req/s | stagewise / bare (req/s) | stagewise / bare "
        "(CPU per request) | before req/s | after / before (req/s) | after / before (CPU per request) "
        "| before: stagewise / bare (req/s) |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        + "\n".join(_ratios(results, w) for w in WORKERS)
        + "\n\n"
        + (
            f"2 workers / 1 worker throughput: {rate[2] / rate[1]:.2f}x on a {os.cpu_count()}-core machine "
            "shared with the load generator (and, on the development machine, other jobs). "
            if set(WORKERS) >= {1, 2}
            else ""
        )
        + "Clean shutdown: "
        + ", ".join(
            f"{w} worker(s) exit {results[('stagewise', w)]['exit_code']}, "
            f"{results[('stagewise', w)]['drained_lines']} drained"
            for w in WORKERS
        )
        + ".\n"
        + (
            f"\n{os.environ['STAGEWISE_BENCH_SERVE_NOTE']}\n"
            if os.environ.get("STAGEWISE_BENCH_SERVE_NOTE")
            else ""
        )
    )
    write_section("serve-load", ".venv/bin/python bench/run.py serve", body)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--loadgen":
        _loadgen(sys.argv[2:])
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        main()
