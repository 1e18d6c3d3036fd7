"""Latency and SQL query count of the registry pages and API, in-process (no network, no web server).

    BULWARK_ENV=development BULWARK_DATA_DIR=/tmp/bulwark-bench .venv/bin/python bench/pages.py [-n 100]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bulwark_bench BULWARK_ENV=development \
        BULWARK_DATA_DIR=/tmp/bulwark-bench .venv/bin/python bench/pages.py

Seed first with bench/seed_registry.py. Each request goes through the whole Django stack (middleware,
session, auth, view, ORM, template or DRF rendering) via ``django.test.Client`` with ``force_login`` of
``bench-admin`` (role admin); the test environment is NOT set up, so templates are not instrumented
and DEBUG stays as configured (off). Per endpoint: 5 warm-up requests, then N timed requests (p50/p95/max),
then ONE more request under ``CaptureQueriesContext`` for the query count (capturing is kept out of the
timed loop because it forces the debug cursor). ``--profile`` prints the slowest queries and a cProfile
summary for every endpoint over the target.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import database_label, django_setup  # noqa: E402

TARGET_P95_MS = 150
TARGET_QUERIES = 20
# Endpoints the target names; the others are measured and reported but have no target.
TARGETED = {"model list", "model list p5", "model list filter", "model page", "versions API"}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=100, help="timed requests per endpoint (after 5 warm-ups)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--user", default="bench-admin")
    parser.add_argument("--only", help="comma-separated endpoint labels to run")
    parser.add_argument("--profile", nargs="?", const="failing", metavar="LABELS",
                        help="cProfile the endpoints that miss a target, or these comma-separated labels")
    parser.add_argument("--queries", action="store_true", help="list every endpoint's queries, slowest first")
    parser.add_argument("--json", help="write the results here as JSON too")
    return parser.parse_args()


def endpoints():
    from governance.choices import RiskTier, VersionStatus
    from governance.models import ModelVersion, RegisteredModel

    seeded = RegisteredModel.objects.filter(name__startswith="bench-")
    if not seeded.exists():
        sys.exit("No bench-* models: run bench/seed_registry.py first.")
    # The model with the most versions that has a released one: the heaviest model page.
    model = (
        seeded.filter(versions__status=VersionStatus.RELEASED).order_by("name").first() or seeded.order_by("name")[0]
    )
    numbers = list(ModelVersion.objects.filter(model=model).order_by("number").values_list("number", flat=True))
    middle = numbers[len(numbers) // 2]
    a, b = numbers[len(numbers) // 4], numbers[-1]
    high = seeded.filter(risk_tier=RiskTier.HIGH).order_by("name").first()
    q = high.name.split("-")[1] if high else "fraud"  # a domain word: matches names and a tag
    return model, [
        ("model list", "/models/"),
        ("model list p5", "/models/?page=5"),
        ("model list filter", f"/models/?risk_tier=high&q={q}"),
        ("model page", f"/models/{model.name}/"),
        ("version page", f"/models/{model.name}/versions/{middle}/"),
        ("compare page", f"/models/{model.name}/compare/?a={a}&b={b}"),
        ("versions API", f"/api/v1/models/{model.name}/versions/"),
        ("models API", "/api/v1/models/"),
    ]


def percentile(values, pct):
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def measure(client, url, n, warmup):
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    for _ in range(warmup):
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}: {response.content[:300]!r}")
    times, cpu = [], []
    for _ in range(n):
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    timings = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timings.append(((time.perf_counter() - started) * 1000, sql))

    reset_queries()
    with CaptureQueriesContext(connection) as ctx, connection.execute_wrapper(timed):
        response = client.get(url)
    queries = [{"sql": q["sql"], "ms": ms} for q, (ms, _) in zip(ctx.captured_queries, timings, strict=False)]
    if len(timings) != len(ctx.captured_queries):  # should not happen; keep the count from Django's capture
        queries = [{"sql": q["sql"], "ms": float(q["time"]) * 1000} for q in ctx.captured_queries]
    return {
        "url": url, "n": n, "bytes": len(response.content),
        "p50": statistics.median(times), "p95": percentile(times, 95), "max": max(times),
        "mean": statistics.fmean(times), "cpu_p50": statistics.median(cpu), "cpu_p95": percentile(cpu, 95),
        "queries": len(queries),
        "sql_ms": sum(q["ms"] for q in queries), "query_log": queries,
    }


def profile(client, label, result, top=12):
    print(f"\n### {label}: {result['url']}")
    slow = sorted(result["query_log"], key=lambda q: q["ms"], reverse=True)[:5]
    print(f"{result['queries']} queries, {result['sql_ms']:.1f} ms of SQL (one request, debug cursor). Slowest:")
    for q in slow:
        print(f"  {q['ms']:7.2f} ms  {q['sql'][:600]}")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(5):
        client.get(result["url"])
    profiler.disable()
    for title, sort, restrict in (
        ("by cumulative time, the project's own code", "cumulative", r"/(governance|explain|incidents)/"),
        ("by own time, everything", "tottime", ""),
    ):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats(sort)
        stats.print_stats(restrict, top) if restrict else stats.print_stats(top)
        lines = [line for line in out.getvalue().splitlines() if line.strip()]
        start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
        print(f"cProfile, 5 requests, {title}:")
        print("\n".join(lines[start:]))


def main():
    args = parse_args()
    django_setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from governance.models import ModelVersion, RegisteredModel

    user = get_user_model().objects.get(username=args.user)
    client = Client(HTTP_HOST=settings.ALLOWED_HOSTS[0] if settings.ALLOWED_HOSTS else "localhost")
    client.force_login(user)
    model, urls = endpoints()
    if args.only:
        wanted = {s.strip() for s in args.only.split(",")}
        urls = [(label, url) for label, url in urls if label in wanted]
    db = database_label()
    print(f"{db}; {RegisteredModel.objects.count()} models, {ModelVersion.objects.count()} versions; "
          f"model page subject: {model.name} ({model.versions.count()} versions); user {user.username}; "
          f"DEBUG={settings.DEBUG}; n={args.n} after {args.warmup} warm-ups\n")
    load_before = os.getloadavg()
    print("| endpoint | URL | p50 ms | p95 ms | max ms | CPU p50 ms | SQL queries | SQL ms (1 req) | KB | target |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    results = {}
    for label, url in urls:
        result = measure(client, url, args.n, args.warmup)
        results[label] = result
        if label in TARGETED:
            ok = result["p95"] < TARGET_P95_MS and result["queries"] < TARGET_QUERIES
            verdict = "pass" if ok else "**FAIL**"
        else:
            verdict = "(none)"
        print(f"| {label} | `{url}` | {result['p50']:.1f} | {result['p95']:.1f} | {result['max']:.1f} | "
              f"{result['cpu_p50']:.1f} | {result['queries']} | {result['sql_ms']:.2f} | "
              f"{result['bytes'] / 1024:.0f} | {verdict} |", flush=True)
    load_after = os.getloadavg()
    print(f"\nload average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after, on {os.cpu_count()} CPUs. "
          "CPU ms = this process only (Django + SQLite; PostgreSQL's own work runs in the server process).")
    if args.queries:
        for label, result in results.items():
            print(f"\n{label}: {result['queries']} queries, {result['sql_ms']:.2f} ms")
            for q in sorted(result["query_log"], key=lambda q: q["ms"], reverse=True):
                print(f"  {q['ms']:7.2f} ms  {q['sql'][:300]}")
    if args.profile:
        chosen = set(args.profile.split(",")) if args.profile != "failing" else None
        for label, result in results.items():
            missed = result["p95"] >= TARGET_P95_MS or result["queries"] >= TARGET_QUERIES
            if (chosen is None and missed) or (chosen is not None and label in chosen):
                profile(client, label, result)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "database": db, "n": args.n, "user": args.user, "loadavg": [load_before, load_after],
            "results": {k: {kk: vv for kk, vv in v.items() if kk != "query_log"} for k, v in results.items()},
        }, indent=2))


if __name__ == "__main__":
    main()
