"""End-to-end time of an analysis job (enqueue -> succeeded) on a real worker, against a direct call of the
same library code in this plain Python process; peak worker memory; and the size and render time of the charts.

    BULWARK_DATA_DIR=/tmp/bulwark-jobbench .venv/bin/python bench/jobs.py [--broker filesystem|redis] [--runs 5]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bulwark_jobbench BULWARK_DATA_DIR=... .venv/bin/python bench/jobs.py

1. Starts from a fresh data dir. It wipes BULWARK_DATA_DIR if it holds the `.jobbench` marker, and refuses a
   non-empty dir without the marker. For PostgreSQL, a database whose name contains "jobbench" is dropped and
   re-created. Then it migrates, creates a contributor, trains RandomForestClassifier(n_estimators=200,
   random_state=0) on make_classification(5000 rows, 30 features f0..f29, binary), and registers it through
   governance.services: model_create, dataset_create (the CSV, target column "target") and model_version_create
   (skops bytes, with the dataset as evaluation dataset).
2. Starts a real worker, `celery -A config worker -Q light,heavy -c 1`, with JOB_WARM_UP=1. It waits for
   "ready.", for the version's compatibility check, and for one untimed warm-up job.
3. Each of the --runs iterations, interleaved so that load from other processes hits all three alike:
     a. direct: `shap.TreeExplainer(forest, feature_perturbation="tree_path_dependent")
                 .shap_values(X, check_additivity=False)`. This is the exact call explain/analyses/_shap._tree
                makes for a plain scikit-learn forest: X is the same 1,000-row DataFrame the job samples.
     b. run(): `explain.analyses.shap_global.run(...)` in-process, on the model loaded by version_load_model.
     c. job: `job_enqueue(kind="shap_global", params={"max_rows": 1000})`, then poll the row every 20 ms
        until it is terminal. It records enqueue->succeeded as seen by the poller, plus the row's own
        created_at, started_at and finished_at.
4. Peak RSS of the worker: VmHWM of the main process and of each pool child. A sampler thread finds the
   children, because a replaced child would otherwise be missed. The high-water marks are reset
   (/proc/<pid>/clear_refs = 5) after the warm-up job, so the "runs" peak covers the timed jobs only.
5. The chart payload of the last result: KB of `charts`, and the points in the beeswarm traces against the
   full values in `shap_values`. Unless --no-browser, it renders the version's report page in headless
   chromium and times until every `.plotly-chart` has its `.main-svg`. It records long tasks (main-thread
   blocks > 50 ms). As a what-if, it also plots the stored (downsampled) beeswarm next to a full 1,000-row ×
   30-feature one.

OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS are set to 1 before numpy is imported, as
config/celery.py does for the workers, so both sides run single-threaded.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy / sklearn / shap are imported: like for like with the workers

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import urlparse  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import REPO, database_label, django_setup, fresh_data_dir  # noqa: E402

MARKER = ".jobbench"
MODEL_NAME = "jobbench-rf"
TARGET = 1.25
KiB = 1024
MiB = 1024 * 1024
CHROMIUM = os.environ.get("BULWARK_CHROMIUM", "/usr/bin/chromium")
# Redis: a DB index of its own, because the bench purges the light and heavy queues of its broker.
BROKERS = {"filesystem": "filesystem://", "redis": "redis://127.0.0.1:6379/15"}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", choices=sorted(BROKERS), default="filesystem")
    parser.add_argument("--redis-url", default=BROKERS["redis"], help="for --broker redis")
    parser.add_argument("--runs", type=int, default=5, help="timed iterations (each: direct, run(), job)")
    parser.add_argument("--rows", type=int, default=1000, help="max_rows of the job")
    parser.add_argument("--poll", type=float, default=0.02, help="seconds between polls of the job row")
    parser.add_argument("--no-browser", action="store_true", help="skip the headless chromium part")
    parser.add_argument("--breakdown", type=int, default=3, metavar="N",
                        help="after the worker runs, run N jobs through job_execute in this process with timers "
                             "around each phase (0: skip)")
    parser.add_argument("--polling-interval", type=float, metavar="S",
                        help="what-if: start the worker with broker_transport_options['polling_interval'] = S "
                             "(kombu's virtual transports, e.g. filesystem, sleep this long when the queue is empty; "
                             "default 1.0). Settings cannot be given this by environment, so the worker is started "
                             "through a bootstrap that sets it on the Celery app")
    parser.add_argument("--keep", action="store_true", help="do not wipe a marked data dir (reuse is refused)")
    parser.add_argument("--json", help="write the results here as JSON too")
    return parser.parse_args()


# --- set-up --------------------------------------------------------------------------------------------------


def fresh_postgres_database(url: str) -> str:
    """Drop and re-create a *jobbench* PostgreSQL database; other names are only created if missing."""
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    conn = ["-h", parsed.hostname or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres"]
    env = {**os.environ, **({"PGPASSWORD": parsed.password} if parsed.password else {})}
    if "jobbench" in name:
        subprocess.run(["dropdb", *conn, "--if-exists", name], check=True, env=env)
        subprocess.run(["createdb", *conn, name], check=True, env=env)
        return "dropped and re-created"
    names = subprocess.run(["psql", *conn, "-Atc", "select datname from pg_database", "postgres"],
                           capture_output=True, text=True, env=env).stdout.split()
    if name not in names:
        subprocess.run(["createdb", *conn, name], check=True, env=env)
        return "created"
    return "reused (its name lacks 'jobbench', so it is not dropped)"


def make_contributor():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from governance.choices import Role

    user = get_user_model().objects.create_user(username="jobbench-contributor", email="jobbench@example.test")
    user.groups.set([Group.objects.get_or_create(name=Role.CONTRIBUTOR)[0]])
    return user


def train_and_register(actor):
    import pandas as pd
    import skops.io
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    from governance import services

    X, y = make_classification(n_samples=5000, n_features=30, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(30)])
    started = time.perf_counter()
    forest = RandomForestClassifier(n_estimators=200, random_state=0).fit(frame, y)
    fit_seconds = time.perf_counter() - started
    frame["target"] = y
    csv = frame.to_csv(index=False).encode()
    blob = skops.io.dumps(forest)
    model = services.model_create(actor=actor, name=MODEL_NAME, title="Job bench random forest",
                                  task="classification")
    dataset = services.dataset_create(actor=actor, fileobj=io.BytesIO(csv), filename="jobbench.csv",
                                      name="jobbench", target_column="target")
    version = services.model_version_create(actor=actor, model=model, fileobj=io.BytesIO(blob),
                                            filename="jobbench.skops", evaluation_dataset=dataset)
    return forest, version, {
        "fit_seconds": fit_seconds, "csv_bytes": len(csv), "skops_bytes": len(blob),
        "nodes": int(sum(e.tree_.node_count for e in forest.estimators_)),
        "mean_depth": float(sum(e.tree_.max_depth for e in forest.estimators_) / len(forest.estimators_)),
        "mean_leaves": float(sum(e.tree_.n_leaves for e in forest.estimators_) / len(forest.estimators_)),
    }


def job_inputs(version, rows: int):
    """What job_execute hands to the analysis: the loaded model, the sampled X and y, the cleaned params."""
    from explain import services as jobs
    from explain.analyses import ANALYSES
    from governance.selectors import dataset_frame
    from governance.services import version_load_model

    dataset = version.evaluation_dataset
    params = jobs._validate("shap_global", {"max_rows": rows}, dataset, version)
    loaded = version_load_model(version)
    frame = dataset_frame(dataset)
    features = version.feature_names or dataset.feature_columns
    module = ANALYSES["shap_global"]
    if getattr(module, "SAMPLE_ROWS", True) and len(frame) > params["max_rows"]:
        frame = frame.sample(n=params["max_rows"], random_state=params["random_state"]).sort_index()
    return loaded, frame[features], frame[dataset.target_column], params


def fixed_costs(version, repeat: int = 3) -> dict:
    """In-process timing of the per-job work around the analysis: load + verify the model, decrypt the data."""
    from governance.selectors import dataset_frame
    from governance.services import version_load_model

    out = {"version_load_model": [], "dataset_frame": []}
    for _ in range(repeat):
        started = time.perf_counter()
        version_load_model(version)
        out["version_load_model"].append(time.perf_counter() - started)
        started = time.perf_counter()
        dataset_frame(version.evaluation_dataset)
        out["dataset_frame"].append(time.perf_counter() - started)
    return {key: statistics.median(values) for key, values in out.items()}


# --- the worker ----------------------------------------------------------------------------------------------


def purge_broker(broker_url: str) -> None:
    from django.conf import settings

    from config.celery import app as celery_app

    if broker_url.startswith("filesystem"):
        for path in (settings.BROKER_DIR / "queue").glob("*"):
            path.unlink(missing_ok=True)
    else:
        with celery_app.connection_for_write() as conn:
            for queue in ("light", "heavy"):
                conn.default_channel.queue_purge(queue)


WORKER_BOOTSTRAP = """
import sys
from config.celery import app
options = dict(app.conf.broker_transport_options or {})
options["polling_interval"] = float(sys.argv[1])
app.conf.broker_transport_options = options
sys.exit(app.start(["worker", *sys.argv[2:]]))
"""


class Worker:
    """`celery -A config worker -Q light,heavy -c 1` against this bench's database, data dir and broker."""

    def __init__(self, env: dict, polling_interval: float | None = None):
        self.env = env
        self.polling_interval = polling_interval
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.proc = None

    def start(self, timeout: float = 120) -> float:
        started = time.monotonic()
        options = ["-Q", "light,heavy", "--concurrency", "1", "--loglevel", "INFO", "--without-gossip",
                   "--without-mingle", "--hostname", f"jobbench-{os.getpid()}@%h"]
        if self.polling_interval is None:
            command = [sys.executable, "-m", "celery", "-A", "config", "worker", *options]
        else:
            command = [sys.executable, "-c", WORKER_BOOTSTRAP, str(self.polling_interval), *options]
        self.proc = subprocess.Popen(
            command,
            cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        if not self.ready.wait(timeout):
            self.stop()
            raise RuntimeError("the worker did not become ready:\n" + "".join(self.lines[-40:]))
        return time.monotonic() - started

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            if " ready." in line:
                self.ready.set()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self, n: int = 40) -> str:
        return "".join(self.lines[-n:])


def _status_kib(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _children(pid: int) -> list[int]:
    found = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                found += [int(p) for p in fh.read().split()]
    except OSError:
        pass
    return found


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children(current)
    return pids


def _schedstat(path: str) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for a CPU) of one thread, from /proc/.../schedstat."""
    try:
        with open(path) as fh:
            cpu, wait, _ = fh.read().split()
        return int(cpu) / 1e9, int(wait) / 1e9
    except (OSError, ValueError):
        return 0.0, 0.0


def thread_sched() -> tuple[float, float]:
    return _schedstat("/proc/thread-self/schedstat")


def tree_sched(root: int) -> dict:
    """Per process of the worker tree: CPU seconds of all its threads, and run-queue wait of its main thread
    (the pool child runs each task in its main thread; the other threads are the heartbeat and timers)."""
    out = {}
    for pid in _tree(root):
        cpu = 0.0
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            cpu += _schedstat(f"/proc/{pid}/task/{tid}/schedstat")[0]
        out[pid] = (cpu, _schedstat(f"/proc/{pid}/task/{pid}/schedstat")[1])
    return out


def sched_delta(before: dict, after: dict, root: int) -> dict:
    main = [after[root][i] - before.get(root, (0.0, 0.0))[i] for i in (0, 1)] if root in after else [0.0, 0.0]
    children = [pid for pid in after if pid != root]
    child_cpu = sum(after[pid][0] - before.get(pid, (0.0, 0.0))[0] for pid in children)
    child_wait = max((after[pid][1] - before.get(pid, (0.0, 0.0))[1] for pid in children), default=0.0)
    return {"main_cpu": main[0], "main_wait": main[1], "child_cpu": child_cpu, "child_wait": child_wait}


class MemorySampler(threading.Thread):
    """Follows the worker's process tree: VmHWM per process (the kernel's peak) and the peak of the summed RSS."""

    def __init__(self, root: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.stopped = threading.Event()
        self.hwm: dict[int, int] = {}  # pid -> last seen VmHWM KiB
        self.rss: dict[int, int] = {}  # pid -> last seen VmRSS KiB
        self.sum_rss_peak = 0
        self.lock = threading.Lock()

    def run(self):
        while not self.stopped.is_set():
            self.sample()
            self.stopped.wait(self.interval)

    def sample(self):
        total = 0
        for pid in _tree(self.root):
            hwm, rss = _status_kib(pid, "VmHWM"), _status_kib(pid, "VmRSS")
            if hwm is None:
                continue
            with self.lock:
                self.hwm[pid] = hwm
                self.rss[pid] = rss or 0
            total += rss or 0
        with self.lock:
            self.sum_rss_peak = max(self.sum_rss_peak, total)

    def reset(self) -> bool:
        """Reset every process's high-water mark to its current RSS, and forget the dead."""
        ok = True
        with self.lock:
            self.hwm.clear()
            self.rss.clear()
            self.sum_rss_peak = 0
        for pid in _tree(self.root):
            try:
                with open(f"/proc/{pid}/clear_refs", "w") as fh:
                    fh.write("5")
            except OSError:
                ok = False
        self.sample()
        return ok

    def snapshot(self) -> dict:
        self.sample()
        with self.lock:
            hwm = dict(self.hwm)
            children = {pid: kib for pid, kib in hwm.items() if pid != self.root}
            return {
                "main_hwm_mib": hwm.get(self.root, 0) / KiB,
                "children_hwm_mib": {pid: kib / KiB for pid, kib in children.items()},
                "max_child_hwm_mib": max(children.values(), default=0) / KiB,
                "sum_hwm_mib": sum(hwm.values()) / KiB,
                "sum_rss_peak_mib": self.sum_rss_peak / KiB,
                "rss_now_mib": {pid: kib / KiB for pid, kib in self.rss.items()},
            }


def wait_until(predicate, timeout: float, interval: float, worker: Worker):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if worker.proc.poll() is not None:
            raise RuntimeError("the worker exited:\n" + worker.tail())
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:.0f} s:\n" + worker.tail())


def run_job(actor, version, rows: int, poll: float, worker: Worker) -> dict:
    from explain import services as jobs
    from explain.models import AnalysisJob

    terminal = ("succeeded", "failed", "cancelled")
    sched_before = tree_sched(worker.proc.pid)
    own_cpu = time.process_time()
    started = time.monotonic()
    job = jobs.job_enqueue(actor=actor, version=version, kind="shap_global", params={"max_rows": rows})
    sent = time.monotonic()

    def done():
        return AnalysisJob.objects.filter(pk=job.pk, status__in=terminal).values_list("status", flat=True).first()

    status = wait_until(done, timeout=1800, interval=poll, worker=worker)
    observed = time.monotonic() - started
    own_cpu = time.process_time() - own_cpu
    sched = sched_delta(sched_before, tree_sched(worker.proc.pid), worker.proc.pid)
    job.refresh_from_db()
    if status != "succeeded":
        raise RuntimeError(f"job #{job.pk} {status}: {job.error_message}\n{job.error_traceback[-3000:]}")
    return {
        "job_id": job.pk,
        "e2e": observed,
        "enqueue_call": sent - started,
        "queue_wait": (job.started_at - job.created_at).total_seconds(),
        "in_job": (job.finished_at - job.started_at).total_seconds(),
        "created_to_finished": (job.finished_at - job.created_at).total_seconds(),
        "explainer_seconds": (job.result.get("method") or {}).get("seconds"),
        "cpu": sched["child_cpu"] + sched["main_cpu"],
        "child_cpu": sched["child_cpu"],
        "main_cpu": sched["main_cpu"],
        "run_queue_wait": sched["child_wait"],
        "e2e_minus_wait": observed - sched["child_wait"],
        "bench_cpu": own_cpu,
        "job": job,
    }


LOAD_MODEL = "load model: version_load_model"
LOAD_DATA = "load data: dataset_frame"
RUN = "analysis: shap_global.run"
SAVE = "save: _finish (result row, audit event, log line)"
AFTER_COMMIT = "after the commit: version_refresh_review (not in e2e)"
TOTAL = "job_execute, total (without the after-commit refresh)"
OTHER = "rest: claim, job fetch, log lines, progress writes, sampling"


def breakdown(actor, version, rows: int, n: int) -> dict:
    """Run n jobs through job_execute in this process (no broker, no worker), with timers around each phase."""
    from explain import services as jobs
    from explain.analyses import _shap, shap_global
    from explain.models import AnalysisJob
    from governance import artifacts, loading, selectors, services

    labels: list[str] = []
    timings: dict[str, list[float]] = {}
    current: dict[str, float] = {}

    def timer(label, owner, name=None, key=None):
        labels.append(label)
        original = owner[key] if key is not None else getattr(owner, name)

        def wrapper(*a, **kw):
            started = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                current[label] = current.get(label, 0.0) + time.perf_counter() - started

        if key is not None:
            owner[key] = wrapper
            return lambda: owner.__setitem__(key, original)
        setattr(owner, name, wrapper)
        return lambda: setattr(owner, name, original)

    restore = [
        timer(LOAD_MODEL, services, "version_load_model"),
        timer("  (model and data) decrypt + verify hash: artifacts.read_bytes", artifacts, "read_bytes"),
        timer("  scan + skops load: loading.load_model", loading, "load_model"),
        timer(LOAD_DATA, selectors, "dataset_frame"),
        timer(RUN, shap_global, "run"),
        timer("  SHAP: _shap._tree (TreeExplainer + shap_values + predict_proba + aggregate)", _shap._FAST,
              key="tree"),
        timer("  SHAP: additivity check", _shap, "_check_additivity"),
        timer("  result: explanation_result (values to lists)", shap_global, "explanation_result"),
        timer("  charts: importance_chart", shap_global, "importance_chart"),
        timer("  charts: beeswarm_charts", shap_global, "beeswarm_charts"),
        timer("  json_safe(result)", shap_global, "json_safe"),
        timer(SAVE, jobs, "_finish"),
        timer(AFTER_COMMIT, services, "version_refresh_review"),
    ]
    labels += [OTHER, TOTAL]
    try:
        for _ in range(n):
            job = jobs.job_enqueue(actor=actor, version=version, kind="shap_global", params={"max_rows": rows})
            current.clear()
            started = time.perf_counter()
            jobs.job_execute(job_id=job.pk, hostname="bench-in-process")
            total = time.perf_counter() - started
            status = AnalysisJob.objects.get(pk=job.pk).status
            if status != "succeeded":
                raise RuntimeError(f"in-process job #{job.pk} {status}")
            refresh = current.get(AFTER_COMMIT, 0.0)
            current[SAVE] = current.get(SAVE, 0.0) - refresh
            current[TOTAL] = total - refresh
            current[OTHER] = current[TOTAL] - sum(current.get(k, 0.0) for k in (LOAD_MODEL, LOAD_DATA, RUN, SAVE))
            for label, value in current.items():
                timings.setdefault(label, []).append(value)
    finally:
        for undo in restore:
            undo()
    return {label: statistics.median(timings[label]) for label in labels if label in timings}


# --- charts --------------------------------------------------------------------------------------------------


def chart_payload(result: dict) -> dict:
    charts = result["charts"]
    beeswarms = [c for c in charts if c["title"].startswith("SHAP values per feature")]
    points = sum(len(trace.get("x") or []) for chart in beeswarms for trace in chart["figure"]["data"])
    values = result["shap_values"]
    full = sum(len(rows) * len(rows[0]) for rows in values if rows)
    return {
        "charts": len(charts),
        "charts_kib": len(json.dumps(charts)) / KiB,
        "per_chart_kib": {c["title"]: len(json.dumps(c)) / KiB for c in charts},
        "beeswarm_points": points,
        "beeswarm_traces": sum(len(chart["figure"]["data"]) for chart in beeswarms),
        "full_values": full,
        "full_rows": len(values[0]) if values else 0,
        "full_features": len(values[0][0]) if values and values[0] else 0,
        "shap_values_kib": len(json.dumps(values)) / KiB,
        "result_kib": len(json.dumps(result)) / KiB,
    }


def full_beeswarm(loaded, X, params) -> dict:
    """What-if: the beeswarm with every row and feature, i.e. without the display downsampling."""
    from explain.analyses import _shap, shap_global

    explanation = _shap.explain(loaded, X, task="classification", params=params)
    saved = shap_global.MAX_BEESWARM_POINTS, shap_global.MAX_BEESWARM_FEATURES
    shap_global.MAX_BEESWARM_POINTS, shap_global.MAX_BEESWARM_FEATURES = 10**9, 10**9
    try:
        return shap_global.beeswarm_charts(explanation, X, params["random_state"])[0]
    finally:
        shap_global.MAX_BEESWARM_POINTS, shap_global.MAX_BEESWARM_FEATURES = saved


LONGTASK_OBSERVER = """
window.__longtasks = [];
try {
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longtasks.push(e.duration); })
    .observe({type: "longtask", buffered: true});
} catch (e) { window.__longtasks = null; }
// Time every Plotly.newPlot the page makes: wrap it as soon as the plotly bundle assigns window.Plotly.
window.__plots = [];
let plotly;
Object.defineProperty(window, "Plotly", {
  configurable: true,
  get() { return plotly; },
  set(value) {
    plotly = value;
    const original = value.newPlot;
    value.newPlot = function (...args) {
      const entry = {start: performance.now()};
      window.__plots.push(entry);
      const promise = original.apply(this, args);
      entry.sync = performance.now() - entry.start;
      Promise.resolve(promise).then(() => { entry.done = performance.now(); });
      return promise;
    };
  },
});
"""

ALL_DRAWN = """() => {
  const charts = document.querySelectorAll('.plotly-chart');
  return charts.length > 0 && [...charts].every((c) => c.querySelector('.main-svg'));
}"""

NAVIGATION_TIMING = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const plotly = performance.getEntriesByType('resource').filter((e) => e.name.includes('plotly'));
  return {ttfb_ms: nav.responseStart, html_ms: nav.responseEnd,
          plotly_js_ms: plotly.length ? Math.max(...plotly.map((e) => e.responseEnd)) : null,
          dom_content_loaded_ms: nav.domContentLoadedEventEnd};
}"""

PLOT_ONE = """async (figure) => {
  const div = document.createElement('div');
  div.style.width = '1100px';
  document.body.appendChild(div);
  const t0 = performance.now();
  await Plotly.newPlot(div, figure.data, figure.layout, {displayModeBar: false});
  const drawn = performance.now() - t0;
  const t1 = performance.now();
  await Plotly.relayout(div, {'xaxis.range': [-0.05, 0.05]});  // a zoom: redraws every point
  const zoom = performance.now() - t1;
  const points = div.querySelectorAll('.scatterlayer .point').length;
  Plotly.purge(div); div.remove();
  return {drawn, zoom, points};
}"""


def browser_render(user, version, full_chart: dict, stored_chart: dict) -> dict:
    """Render the report and job pages in headless chromium; time until every chart is drawn."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop in this thread
    from django.conf import settings
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test import Client
    from django.test.testcases import LiveServerThread
    from playwright.sync_api import sync_playwright

    server = LiveServerThread("127.0.0.1", StaticFilesHandler)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    base = f"http://127.0.0.1:{server.port}"
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    job = version.jobs.filter(kind="shap_global", status="succeeded").order_by("-pk").first()
    pages = {"report page": f"/models/{version.model.name}/versions/{version.number}/report/",
             "job page": f"/jobs/{job.pk}/"}
    out = {"pages": {}, "whatif": {}}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"])
            context = browser.new_context(viewport={"width": 1366, "height": 900})
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base}])
            context.add_init_script(LONGTASK_OBSERVER)
            for label, path in pages.items():
                runs = []
                for _ in range(3):
                    page = context.new_page()
                    errors = []
                    page.on("console", lambda msg, errors=errors: msg.type == "error" and errors.append(msg.text))
                    response = page.goto(base + path, wait_until="commit")
                    body = len(response.body())
                    page.wait_for_function(ALL_DRAWN, timeout=60_000)
                    drawn = page.evaluate("performance.now()")
                    charts = page.evaluate("document.querySelectorAll('.plotly-chart').length")
                    longtasks = page.evaluate("window.__longtasks") or []
                    plots = page.evaluate("window.__plots")
                    timing = page.evaluate(NAVIGATION_TIMING)
                    runs.append({"drawn_ms": drawn, "html_kib": body / KiB, "charts": charts,
                                 "first_plot_ms": min(p["start"] for p in plots),
                                 "plotting_ms": max(p.get("done", p["start"] + p["sync"]) for p in plots)
                                 - min(p["start"] for p in plots),
                                 "max_newplot_sync_ms": max(p["sync"] for p in plots),
                                 "max_longtask_ms": max(longtasks, default=0.0),
                                 "sum_longtask_ms": sum(longtasks), "console_errors": errors, **timing})
                    page.close()
                out["pages"][label] = {"url": path, "runs": runs}
            page = context.new_page()
            page.goto(base + pages["report page"])
            page.wait_for_function(ALL_DRAWN, timeout=60_000)
            for label, chart in (("stored beeswarm (downsampled)", stored_chart),
                                 ("full beeswarm (every row and feature)", full_chart)):
                figure = chart["figure"]
                points = sum(len(t.get("x") or []) for t in figure["data"])
                timings = [page.evaluate(PLOT_ONE, figure) for _ in range(3)]
                out["whatif"][label] = {
                    "points": points, "kib": len(json.dumps(figure)) / KiB,
                    "drawn_ms": statistics.median(t["drawn"] for t in timings),
                    "zoom_ms": statistics.median(t["zoom"] for t in timings),
                    "svg_points": timings[0]["points"],
                }
            browser.close()
    finally:
        server.terminate()
    return out


# --- statistics and output -----------------------------------------------------------------------------------


def p90(values):
    ordered = sorted(values)  # nearest rank
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def stats(values) -> dict:
    return {"median": statistics.median(values), "p90": p90(values), "min": min(values), "max": max(values)}


def fmt_s(value) -> str:
    return f"{value:.2f}"


def main():
    args = parse_args()
    data_dir = fresh_data_dir(MARKER, "bench/jobs.py")
    broker_url = BROKERS["filesystem"] if args.broker == "filesystem" else args.redis_url
    os.environ["CELERY_BROKER_URL"] = broker_url
    os.environ.setdefault("BULWARK_ENV", "development")
    pg_note = None
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        pg_note = fresh_postgres_database(os.environ["DATABASE_URL"])
    load_start = os.getloadavg()
    django_setup(migrate=True)

    import numpy as np
    import shap
    import sklearn

    from explain.analyses import shap_global
    from explain.models import AnalysisJob
    from governance.models import ModelVersion

    db = database_label()
    print(f"# bench/jobs.py: {db}, broker {broker_url}, data dir {data_dir}"
          + (f" (database {pg_note})" if pg_note else ""), flush=True)
    purge_broker(broker_url)  # before the upload, which queues the version's compatibility check
    user = make_contributor()
    forest, version, model_info = train_and_register(user)
    print(f"model: {model_info}", flush=True)
    loaded, X, y, params = job_inputs(version, args.rows)
    fixed = fixed_costs(version)
    print(f"in-process fixed costs: {fixed}", flush=True)

    env = {**os.environ, "BULWARK_DATA_DIR": str(data_dir), "CELERY_BROKER_URL": broker_url, "JOB_WARM_UP": "1"}
    worker = Worker(env, args.polling_interval)
    ready_seconds = worker.start()
    sampler = MemorySampler(worker.proc.pid)
    sampler.start()
    results = {"args": vars(args), "database": db, "broker": broker_url, "model": model_info,
               "fixed_costs": fixed, "python": platform.python_version(), "nproc": os.cpu_count(),
               "versions": {"shap": shap.__version__, "sklearn": sklearn.__version__, "numpy": np.__version__}}
    try:
        print(f"worker ready in {ready_seconds:.1f} s (pid {worker.proc.pid})", flush=True)
        compat = wait_until(
            lambda: ModelVersion.objects.filter(pk=version.pk).exclude(compat_status__in=["pending", "running"])
            .values_list("compat_status", flat=True).first(), timeout=300, interval=0.2, worker=worker)
        first = run_job(user, version, args.rows, args.poll, worker)
        print(f"compatibility check {compat}; warm-up job: e2e {first['e2e']:.2f} s "
              f"(queue {first['queue_wait']:.2f}, in job {first['in_job']:.2f})", flush=True)
        results["warm_up_job"] = {k: v for k, v in first.items() if k != "job"}
        results["memory_until_warm"] = sampler.snapshot()
        results["hwm_reset"] = sampler.reset()

        direct, in_process, e2e = [], [], []
        check = None

        def timed(call):
            cpu0, wait0 = thread_sched()
            started = time.perf_counter()
            value = call()
            wall = time.perf_counter() - started
            cpu1, wait1 = thread_sched()
            return value, {"wall": wall, "cpu": cpu1 - cpu0, "run_queue_wait": wait1 - wait0,
                           "wall_minus_wait": wall - (wait1 - wait0)}

        for i in range(args.runs):
            values, measured = timed(lambda: shap.TreeExplainer(
                forest, feature_perturbation="tree_path_dependent").shap_values(X, check_additivity=False))
            direct.append(measured)
            _, measured = timed(lambda: shap_global.run(loaded, X, y, task=version.model.task, params=params,
                                                         progress=lambda p, m: None))
            in_process.append(measured)
            job = run_job(user, version, args.rows, args.poll, worker)
            e2e.append(job)
            print(f"run {i + 1}: direct {direct[-1]['wall']:.2f} s (cpu {direct[-1]['cpu']:.2f}, waited "
                  f"{direct[-1]['run_queue_wait']:.2f}), run() {in_process[-1]['wall']:.2f} s, job e2e "
                  f"{job['e2e']:.2f} s (cpu {job['cpu']:.2f}, waited {job['run_queue_wait']:.2f}; queue "
                  f"{job['queue_wait']:.2f}, in job {job['in_job']:.2f}, explainer {job['explainer_seconds']}) "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
            if check is None:
                result = job["job"].result
                same_rows = [str(i) for i in result["rows_used"]] == [str(i) for i in X.index]
                diff = float(np.max(np.abs(np.asarray(values)[:, :, 1] - np.asarray(result["shap_values"][0]))))
                check = {"same_rows": same_rows, "max_abs_diff_vs_job": diff}
        memory = sampler.snapshot()
    finally:
        sampler.stopped.set()
        worker.stop()
    load_end = os.getloadavg()
    if args.breakdown:
        results["breakdown"] = breakdown(user, version, args.rows, args.breakdown)
        purge_broker(broker_url)  # the in-process jobs' messages were never consumed

    last = AnalysisJob.objects.get(pk=e2e[-1]["job_id"])
    payload = chart_payload(last.result)
    from explain import report

    export_kib = len(json.dumps(report.build(version), default=str)) / KiB
    results.update({
        "load_start": load_start, "load_end": load_end, "check": check, "memory_runs": memory,
        "direct": stats([d["wall"] for d in direct]), "run": stats([r["wall"] for r in in_process]),
        "direct_cpu": stats([d["cpu"] for d in direct]), "run_cpu": stats([r["cpu"] for r in in_process]),
        "direct_adj": stats([d["wall_minus_wait"] for d in direct]),
        "run_adj": stats([r["wall_minus_wait"] for r in in_process]),
        "direct_wait": stats([d["run_queue_wait"] for d in direct]),
        "e2e": stats([j["e2e"] for j in e2e]),
        "e2e_adj": stats([j["e2e_minus_wait"] for j in e2e]),
        "job_cpu": stats([j["cpu"] for j in e2e]),
        "job_child_cpu": stats([j["child_cpu"] for j in e2e]),
        "job_main_cpu": stats([j["main_cpu"] for j in e2e]),
        "job_wait": stats([j["run_queue_wait"] for j in e2e]),
        "bench_cpu": stats([j["bench_cpu"] for j in e2e]),
        "queue_wait": stats([j["queue_wait"] for j in e2e]),
        "in_job": stats([j["in_job"] for j in e2e]),
        "created_to_finished": stats([j["created_to_finished"] for j in e2e]),
        "explainer_seconds": stats([j["explainer_seconds"] for j in e2e]),
        "enqueue_call": stats([j["enqueue_call"] for j in e2e]),
        "paired_ratio_direct": stats([j["e2e"] / d["wall"] for j, d in zip(e2e, direct, strict=True)]),
        "paired_ratio_run": stats([j["e2e"] / r["wall"] for j, r in zip(e2e, in_process, strict=True)]),
        "paired_ratio_direct_adj": stats([j["e2e_minus_wait"] / d["wall_minus_wait"]
                                          for j, d in zip(e2e, direct, strict=True)]),
        "raw": {"direct": direct, "run": in_process, "jobs": [{k: v for k, v in j.items() if k != "job"} for j in e2e]},
        "payload": payload, "export_json_kib": export_kib,
    })
    results["ratio_direct"] = results["e2e"]["median"] / results["direct"]["median"]
    results["ratio_run"] = results["e2e"]["median"] / results["run"]["median"]
    results["ratio_direct_adj"] = results["e2e_adj"]["median"] / results["direct_adj"]["median"]
    results["ratio_run_adj"] = results["e2e_adj"]["median"] / results["run_adj"]["median"]
    results["ratio_cpu"] = results["job_cpu"]["median"] / results["direct_cpu"]["median"]

    if not args.no_browser and Path(CHROMIUM).exists():
        stored = next(c for c in last.result["charts"] if c["title"].startswith("SHAP values per feature"))
        results["browser"] = browser_render(user, version, full_beeswarm(loaded, X, params), stored)

    print_report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))


def print_report(r: dict) -> None:
    print()
    polling = r["args"].get("polling_interval")
    print(f"## {r['database']}, broker {r['broker'].split(':')[0]}"
          + (f" (polling_interval {polling} s)" if polling is not None else "") + f", n = {r['args']['runs']} "
          f"(load average {r['load_start'][0]:.2f} -> {r['load_end'][0]:.2f}, {r['nproc']} CPUs)")
    print()
    print("| measure | median s | p90 s | min s | max s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    rows = [
        ("direct: TreeExplainer(...).shap_values(X)", "direct"),
        ("in-process: shap_global.run(...)", "run"),
        ("**job end to end (enqueue -> succeeded seen)**", "e2e"),
        ("job: created_at -> finished_at", "created_to_finished"),
        ("job: queue wait (created_at -> started_at)", "queue_wait"),
        ("job: in the worker (started_at -> finished_at)", "in_job"),
        ("job: explainer step (result method.seconds)", "explainer_seconds"),
        ("job_enqueue() call", "enqueue_call"),
        ("direct, minus run-queue wait", "direct_adj"),
        ("run(), minus run-queue wait", "run_adj"),
        ("job e2e, minus the pool child's run-queue wait", "e2e_adj"),
        ("direct: CPU", "direct_cpu"),
        ("run(): CPU", "run_cpu"),
        ("job: CPU of the worker (pool child + main)", "job_cpu"),
        ("job: CPU of the pool child", "job_child_cpu"),
        ("job: CPU of the worker main process", "job_main_cpu"),
        ("direct: run-queue wait (other load)", "direct_wait"),
        ("job: pool child's run-queue wait (other load)", "job_wait"),
        ("this process's CPU while it waits for the job (poller, sampler)", "bench_cpu"),
    ]
    for label, key in rows:
        s = r[key]
        print(f"| {label} | {fmt_s(s['median'])} | {fmt_s(s['p90'])} | {fmt_s(s['min'])} | {fmt_s(s['max'])} |")
    verdict = "PASS" if r["ratio_direct"] <= TARGET else "FAIL"
    print()
    print(f"ratio e2e / direct (medians): **{r['ratio_direct']:.3f}** -> {verdict} (target <= {TARGET}); "
          f"paired per run: median {r['paired_ratio_direct']['median']:.3f}, max {r['paired_ratio_direct']['max']:.3f}")
    print(f"ratio e2e / run() (medians): {r['ratio_run']:.3f}; paired median {r['paired_ratio_run']['median']:.3f}")
    print(f"without run-queue wait: e2e / direct {r['ratio_direct_adj']:.3f} (paired median "
          f"{r['paired_ratio_direct_adj']['median']:.3f}, max {r['paired_ratio_direct_adj']['max']:.3f}), "
          f"e2e / run() {r['ratio_run_adj']:.3f}; CPU job / direct {r['ratio_cpu']:.3f}")
    print(f"same rows as the job: {r['check']['same_rows']}; "
          f"max |direct - job SHAP| = {r['check']['max_abs_diff_vs_job']:.2e}")
    print(f"in-process fixed costs per job: version_load_model {r['fixed_costs']['version_load_model']:.3f} s, "
          f"dataset_frame {r['fixed_costs']['dataset_frame']:.3f} s")
    w = r["warm_up_job"]
    print(f"warm-up job (untimed): e2e {w['e2e']:.2f} s, queue {w['queue_wait']:.2f} s, in job {w['in_job']:.2f} s")
    for label, key in (("until warm (start, compat check, warm-up job)", "memory_until_warm"),
                       ("during the timed runs (after reset)", "memory_runs")):
        m = r[key]
        children = ", ".join(f"{v:.0f}" for v in m["children_hwm_mib"].values())
        print(f"peak RSS {label}: main {m['main_hwm_mib']:.0f} MiB, pool child(ren) {children} MiB, "
              f"sum of peaks {m['sum_hwm_mib']:.0f} MiB, peak of summed RSS {m['sum_rss_peak_mib']:.0f} MiB")
    m = r["memory_runs"]
    print("RSS at the end: " + ", ".join(f"pid {pid} {v:.0f} MiB" for pid, v in m["rss_now_mib"].items()))
    if r.get("breakdown"):
        print()
        print(f"in-process job_execute, median of {r['args']['breakdown']} (no broker, no worker):")
        print()
        print("| phase | s |")
        print("| --- | ---: |")
        for label, value in r["breakdown"].items():
            print(f"| {label} | {value:.3f} |")
        print()
    p = r["payload"]
    print(f"charts JSON: {p['charts_kib']:.0f} KiB for {p['charts']} charts "
          + ", ".join(f"{k!r} {v:.0f} KiB" for k, v in p["per_chart_kib"].items()))
    print(f"beeswarm: {p['beeswarm_points']} points in {p['beeswarm_traces']} traces; result keeps "
          f"{p['full_values']} values ({p['full_rows']} rows x {p['full_features']} features, "
          f"{p['shap_values_kib']:.0f} KiB); whole result {p['result_kib']:.0f} KiB; "
          f"JSON export {r['export_json_kib']:.0f} KiB")
    b = r.get("browser")
    if b:
        for label, page in b["pages"].items():
            runs = page["runs"]
            print(f"{label} {page['url']}: {runs[0]['charts']} charts drawn in "
                  f"{statistics.median(x['drawn_ms'] for x in runs):.0f} ms (median of {len(runs)}, from navigation); "
                  f"first byte {statistics.median(x['ttfb_ms'] for x in runs):.0f} ms, HTML received "
                  f"{statistics.median(x['html_ms'] for x in runs):.0f} ms, plotly.js received "
                  f"{statistics.median(x['plotly_js_ms'] or 0 for x in runs):.0f} ms, DOMContentLoaded "
                  f"{statistics.median(x['dom_content_loaded_ms'] for x in runs):.0f} ms, "
                  f"first newPlot at {statistics.median(x['first_plot_ms'] for x in runs):.0f} ms, all plotting "
                  f"{statistics.median(x['plotting_ms'] for x in runs):.0f} ms, longest newPlot (blocking) "
                  f"{max(x['max_newplot_sync_ms'] for x in runs):.0f} ms; "
                  f"longest main-thread task {max(x['max_longtask_ms'] for x in runs):.0f} ms, "
                  f"HTML {runs[0]['html_kib']:.0f} KiB, console errors {sum(len(x['console_errors']) for x in runs)}")
        for label, w in b["whatif"].items():
            print(f"what-if {label}: {w['points']} points, {w['kib']:.0f} KiB, newPlot {w['drawn_ms']:.0f} ms, "
                  f"zoom redraw {w['zoom_ms']:.0f} ms")


if __name__ == "__main__":
    main()
