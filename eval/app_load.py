"""Load and soak figures of the served app (`make bench`; prints, asserts nothing).

The app runs as its own process (`rag serve` over a given index), so its resident memory
is the server's alone; clients speak Gradio's HTTP API to the chat's own endpoint (`POST
/gradio_api/call/ui_ask`, then the event stream of the result) with httpx:

* load: N clients at once, each asking its questions one after another in its own
  session: throughput, p50/p95 latency of the answered ones, and how many were refused
  as busy (with the refusal's text);
* soak: many requests through a fixed number of clients, some asking one question per
  session (a new session every time) and some holding long conversations; the server's
  RSS after a warm-up, half-way and at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Outcomes:
    latencies: list[float] = field(default_factory=list)  # answered requests, seconds
    busy: int = 0
    errors: int = 0
    busy_text: str = ""
    error_text: str = ""

    def add(self, other: Outcomes) -> None:
        self.latencies += other.latencies
        self.busy += other.busy
        self.errors += other.errors
        self.busy_text = self.busy_text or other.busy_text
        self.error_text = self.error_text or other.error_text


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def rss_mib(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """`rag serve` in its own process on a free loopback port: (base URL, pid)."""
    port = _free_port()
    command = [sys.executable, "-c", "from rag.cli import main; main()", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the app exited ({process.returncode}); see {log}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app did not answer within 300 s; see {log}")
            time.sleep(0.5)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def ask(
    client: httpx.AsyncClient, url: str, question: str, session: str, outcomes: Outcomes
) -> None:
    """One question through the queue, timed from the request to the final answer."""
    started = time.perf_counter()
    body = {"data": [question, "extractive", 5, "", ""], "session_hash": session}
    try:
        posted = await client.post(f"{url}gradio_api/call/ui_ask", json=body)
        if posted.status_code in (422, 503):
            outcomes.busy += 1
            outcomes.busy_text = outcomes.busy_text or _reason(posted)
            return
        posted.raise_for_status()
        event_id = posted.json()["event_id"]
        kind = ""
        async with client.stream("GET", f"{url}gradio_api/call/ui_ask/{event_id}") as stream:
            async for line in stream.aiter_lines():
                if line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and kind in ("complete", "error"):
                    break
        if kind == "complete":
            outcomes.latencies.append(time.perf_counter() - started)
        else:
            outcomes.errors += 1
            outcomes.error_text = outcomes.error_text or f"event {kind or 'missing'}"
    except httpx.HTTPError as error:
        outcomes.errors += 1
        outcomes.error_text = outcomes.error_text or f"{type(error).__name__}: {error}"


def _reason(response: httpx.Response) -> str:
    retry = response.headers.get("retry-after")
    try:
        detail: Any = response.json().get("detail")
    except (json.JSONDecodeError, AttributeError):
        detail = response.text
    if isinstance(detail, list):
        detail = "; ".join(str(d.get("message", d)) for d in detail if isinstance(d, dict))
    text = f"HTTP {response.status_code}: {detail}"
    return f"{text} (Retry-After: {retry})" if retry else text


async def _client_run(
    url: str, questions: Sequence[str], count: int, turns_per_session: int, offset: int
) -> Outcomes:
    outcomes = Outcomes()
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        session = secrets.token_hex(6)
        for n in range(count):
            if n and n % turns_per_session == 0:
                session = secrets.token_hex(6)
            question = questions[(offset + n) % len(questions)]
            await ask(client, url, question, session, outcomes)
    return outcomes


async def _load(url: str, questions: Sequence[str], clients: int, each: int) -> dict[str, Any]:
    started = time.perf_counter()
    runs = [_client_run(url, questions, each, each, 7 * c) for c in range(clients)]
    total = Outcomes()
    for outcome in await asyncio.gather(*runs):
        total.add(outcome)
    wall = time.perf_counter() - started
    answered = total.latencies
    return {
        "clients": clients,
        "requests": clients * each,
        "answered": len(answered),
        "busy": total.busy,
        "errors": total.errors,
        "busy_text": total.busy_text,
        "error_text": total.error_text,
        "wall_s": round(wall, 2),
        "throughput_per_s": round(len(answered) / wall, 2) if wall else None,
        "p50_s": round(median(answered), 2) if answered else None,
        "p95_s": round(percentile(answered, 95), 2) if answered else None,
        "mean_s": round(sum(answered) / len(answered), 3) if answered else None,
    }


def measure_load(
    url: str, questions: Sequence[str], plans: Sequence[tuple[int, int]]
) -> list[dict[str, Any]]:
    """One row per (clients, questions each): all clients start together."""
    return [asyncio.run(_load(url, questions, clients, each)) for clients, each in plans]


async def _soak(
    url: str,
    pid: int,
    questions: Sequence[str],
    requests: int,
    clients: int,
    warm_up: int,
    conversation_turns: int,
) -> dict[str, Any]:
    """Half the clients ask one question per session, half hold long conversations."""
    done = 0
    samples: list[tuple[int, float]] = []
    total = Outcomes()
    lock = asyncio.Lock()

    async def worker(c: int) -> None:
        nonlocal done
        turns = 1 if c % 2 == 0 else conversation_turns
        limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
        async with httpx.AsyncClient(timeout=600, limits=limits) as client:
            session, asked = secrets.token_hex(6), 0
            while True:
                async with lock:
                    if done >= requests:
                        return
                    done += 1
                    number = done
                if asked == turns:
                    session, asked = secrets.token_hex(6), 0
                asked += 1
                await ask(client, url, questions[number % len(questions)], session, total)
                if number == warm_up or number % 500 == 0:
                    samples.append((number, rss_mib(pid)))

    started = time.perf_counter()
    samples.append((0, rss_mib(pid)))
    await asyncio.gather(*(worker(c) for c in range(clients)))
    await asyncio.sleep(2)  # let the last responses settle
    samples.append((requests, rss_mib(pid)))
    warm = next(rss for n, rss in samples if n >= warm_up)
    half = next(rss for n, rss in samples if n >= requests // 2)
    end = samples[-1][1]
    return {
        "requests": requests,
        "clients": clients,
        "conversation_turns": conversation_turns,
        "answered": len(total.latencies),
        "busy": total.busy,
        "errors": total.errors,
        "error_text": total.error_text,
        "wall_s": round(time.perf_counter() - started, 1),
        "warm_up_requests": warm_up,
        "rss_start_mib": round(samples[0][1], 1),
        "rss_after_warm_up_mib": round(warm, 1),
        "rss_end_mib": round(end, 1),
        "growth_after_warm_up_pct": round(100 * (end - warm) / warm, 1),
        "growth_second_half_pct": round(100 * (end - half) / half, 1),
        "samples": [(n, round(r, 1)) for n, r in samples],
    }


def measure_soak(
    url: str,
    pid: int,
    questions: Sequence[str],
    *,
    requests: int = 5000,
    clients: int = 20,
    warm_up: int = 1000,
    conversation_turns: int = 100,
) -> dict[str, Any]:
    """Warm-up: until the app's bounded stores are full (at the defaults, 200 sessions
    after about 400 requests, conversations at their 50 kept turns after about 1,000)."""
    return asyncio.run(
        _soak(url, pid, questions, requests, clients, min(warm_up, requests), conversation_turns)
    )


def load_line(row: dict[str, Any]) -> str:
    line = (
        f"{row['clients']:>3} clients x {row['requests'] // row['clients']} questions: "
        f"{row['answered']} answered, {row['busy']} busy, {row['errors']} errors in "
        f"{row['wall_s']} s; {row['throughput_per_s']} answers/s, p50 {row['p50_s']} s, "
        f"p95 {row['p95_s']} s"
    )
    if row["busy_text"]:
        line += f"\n      busy answer: {row['busy_text']}"
    if row["error_text"]:
        line += f"\n      first error: {row['error_text']}"
    return line


def soak_line(soak: dict[str, Any]) -> str:
    return (
        f"Soak: {soak['requests']} requests ({soak['clients']} clients: half one question per "
        f"session, half conversations of {soak['conversation_turns']}), {soak['answered']} "
        f"answered, {soak['busy']} busy, {soak['errors']} errors in {soak['wall_s']} s; "
        f"server RSS {soak['rss_start_mib']} MiB at start, {soak['rss_after_warm_up_mib']} MiB "
        f"after {soak['warm_up_requests']} requests, {soak['rss_end_mib']} MiB at the end "
        f"({soak['growth_after_warm_up_pct']:+.1f}% after warm-up, "
        f"{soak['growth_second_half_pct']:+.1f}% over the second half)"
    )
