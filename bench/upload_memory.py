"""Peak memory of registering a ~100 MB model artifact, against the memory of simply loading that model.

    BULWARK_ENV=development BULWARK_DATA_DIR=/tmp/bulwark-bench .venv/bin/python bench/upload_memory.py \
        [--size-mb 100] [--artifact /tmp/bulwark-bench/big.skops]

1. Builds (or reuses) a skops file of a RandomForestClassifier with deep trees on noisy synthetic data, grown
   until the file reaches ``--size-mb``. Tree types are trusted by default (settings.SKOPS_TRUSTED_TYPES).
2. Runs every measurement in a FRESH subprocess that first does the same imports and ``django.setup()``:

   - ``idle``        imports only: the floor every other row is measured against
   - ``read``        ``open(path, "rb").read()``: one copy of the artifact bytes
   - ``load-file``   ``skops.io.load(path)``: the model object alone (skops reads the zip member by member)
   - ``load-bytes``  ``skops.io.loads(open(path, "rb").read())``: one copy of the bytes + the model
   - ``upload``      ``governance.services.model_version_create(actor=<contributor>, model=...,
                      fileobj=open(path, "rb"), filename="big.skops")``: scan, load, encrypt to storage, rows
   - ``worker-load`` ``governance.services.version_load_model(version)`` of that upload (registered untimed
                      first): what the compatibility check and every job pay to decrypt, verify and load

   and reports the peak RSS of that process (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), the increment
   over ``idle``, and wall time. Each mode runs a second time under ``tracemalloc`` for the peak of traced
   allocations (Python objects and numpy buffers), which is free of allocator and page-cache noise.
   For ``upload`` the peak RSS is also sampled at the phase boundaries (read → scan → load → encrypt+store).

The question it answers: does the upload path hold the artifact twice (peak ≈ 2 × size + model) or only
once (peak ≈ ``load-bytes``)?
"""

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import django_setup  # noqa: E402

MiB = 1024 * 1024
MODES = ["idle", "read", "load-file", "load-bytes", "upload", "worker-load"]
CHILD_MODES = [*MODES, "build"]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=100, help="target artifact size in MiB")
    parser.add_argument("--artifact", help="where to build (or reuse) the .skops file; default: DATA_DIR/big.skops")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the tracemalloc runs (faster)")
    parser.add_argument("--json", help="write the results here as JSON too")
    parser.add_argument("--child", choices=CHILD_MODES, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


# --- the artifact ---------------------------------------------------------------------------------


def build_artifact(path: Path, size_mb: float) -> None:
    import numpy as np
    import skops.io as sio
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    started = time.perf_counter()
    # Noisy labels keep the trees fully grown (~80 bytes per node in the skops file).
    X, y = make_classification(n_samples=60_000, n_features=20, n_informative=10, flip_y=0.3, random_state=0)
    X = X.astype(np.float32)
    forest = RandomForestClassifier(n_estimators=8, n_jobs=os.cpu_count(), random_state=0, warm_start=True)
    forest.fit(X, y)
    per_tree = len(sio.dumps(forest)) / len(forest.estimators_)
    forest.n_estimators = max(len(forest.estimators_), round(size_mb * MiB / per_tree))
    forest.fit(X, y)
    data = sio.dumps(forest)
    path.write_bytes(data)
    print(f"built {path}: {len(data) / MiB:.1f} MiB, {len(forest.estimators_)} trees, "
          f"{sum(e.tree_.node_count for e in forest.estimators_):,} nodes in {time.perf_counter() - started:.0f} s")


# --- the children ---------------------------------------------------------------------------------


def _rss_now() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak() -> int:
    """Peak RSS since the last reset: VmHWM (what ru_maxrss reports for this process, minus the value a
    process can inherit across fork+exec: the kernel latches the forked parent's high-water mark)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return _ru_maxrss()


def _ru_maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _reset_peak() -> bool:
    """Reset the RSS high-water mark to the current RSS (Linux >= 4.0), so the peak covers only what follows."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class Phases:
    """Peak RSS so far (ru_maxrss, monotonic), current RSS and time at named points."""

    def __init__(self):
        self.marks = []
        self.t0 = time.perf_counter()

    def mark(self, name: str) -> None:
        traced = tracemalloc.get_traced_memory() if tracemalloc.is_tracing() else (None, None)
        self.marks.append({"phase": name, "t": time.perf_counter() - self.t0, "peak_rss": _peak(),
                           "rss": _rss_now(), "traced": traced[0], "traced_peak": traced[1]})


def _instrument_upload(phases: Phases) -> None:
    """Wrap the module attributes model_version_create calls through, to mark where the peak happens."""
    import contextlib

    from governance import artifacts, loading

    scan, load, upload = loading.scan_artifact, loading.load_model, artifacts.artifact_upload

    def scan_artifact(data, flavour):
        phases.mark("before the scan (the upload is read by the scan itself)")
        try:
            return scan(data, flavour)
        finally:
            phases.mark("scan")

    def load_model(data, flavour, **kwargs):
        try:
            return load(data, flavour, **kwargs)
        finally:
            phases.mark("load (loading.load_model: skops.io.load from the file)")

    @contextlib.contextmanager
    def artifact_upload(fileobj, **kwargs):
        with upload(fileobj, **kwargs) as stored:
            phases.mark("encrypt + store blob")
            yield stored

    loading.scan_artifact, loading.load_model, artifacts.artifact_upload = scan_artifact, load_model, artifact_upload


def _contributor_and_model():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from governance import services
    from governance.choices import Role, Task

    user, created = get_user_model().objects.get_or_create(username="bench-contributor")
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    user.groups.add(Group.objects.get(name=Role.CONTRIBUTOR))
    model = services.model_create(actor=user, name=f"benchupload-{os.getpid()}-{int(time.time())}",
                                  title="Upload memory benchmark", task=Task.CLASSIFICATION)
    return user, model


def _tree_bytes(forest) -> int:
    """What the fitted trees hold in sklearn's own (Cython, malloc) buffers: node structs + value arrays."""
    from sklearn.tree._tree import NODE_DTYPE

    total = 0
    for estimator in forest.estimators_:
        tree = estimator.tree_
        total += tree.node_count * (NODE_DTYPE.itemsize + tree.n_outputs * int(max(tree.n_classes)) * 8)
    return total


def child(mode: str, path: Path, trace: bool) -> dict:
    django_setup()
    import sklearn.ensemble  # noqa: F401 - the same imports in every mode, so 'idle' is a fair floor
    import skops.io as sio
    from django.conf import settings

    from governance import loading, services  # noqa: F401

    trusted = list(settings.SKOPS_TRUSTED_TYPES)
    extra = {}
    if mode in ("upload", "worker-load"):
        user, model = _contributor_and_model()
    if mode == "worker-load":
        with open(path, "rb") as fh:
            uploaded = services.model_version_create(actor=user, model=model, fileobj=fh, filename="big.skops")
    phases = Phases()
    if mode == "upload":
        _instrument_upload(phases)
    gc.collect()
    reset = _reset_peak()
    before_rss, before_peak, before_ru = _rss_now(), _peak(), _ru_maxrss()
    if trace:
        tracemalloc.start()
    phases.mark("start")
    started = time.perf_counter()
    if mode == "read":
        with open(path, "rb") as fh:
            data = fh.read()
        extra["bytes"] = len(data)
    elif mode == "load-file":
        obj = sio.load(path, trusted=trusted)
        extra["trees"] = len(obj.estimators_)
        extra["tree_bytes"] = _tree_bytes(obj)
    elif mode == "load-bytes":
        with open(path, "rb") as fh:
            data = fh.read()
        obj = sio.loads(data, trusted=trusted)
        extra["trees"] = len(obj.estimators_)
    elif mode == "upload":
        with open(path, "rb") as fh:
            version = services.model_version_create(actor=user, model=model, fileobj=fh, filename="big.skops")
        extra.update({"version": str(version), "stored_size": version.artifact.size})
    elif mode == "worker-load":
        loaded = services.version_load_model(uploaded)
        extra["trees"] = len(loaded.estimator.estimators_)
    wall = time.perf_counter() - started
    phases.mark("done")
    traced_peak = tracemalloc.get_traced_memory()[1] if trace else None
    if trace:
        tracemalloc.stop()
    if mode in ("upload", "worker-load"):  # leave the data dir as it was: the model, its version row and its blob go
        try:
            services.model_delete(actor=user, model=model)
        except Exception as exc:  # noqa: BLE001 - cleanup only; the measurement is already taken
            print(f"could not delete {model.name}: {exc}", file=sys.stderr)
    return {"mode": mode, "wall_s": wall, "peak_rss": _peak(), "rss_before": before_rss, "peak_reset": reset,
            "peak_before": before_peak, "ru_maxrss_before": before_ru, "ru_maxrss": _ru_maxrss(),
            "rss_after": _rss_now(), "traced_peak": traced_peak,
            "phases": phases.marks, **extra}


def run_child(mode: str, path: Path, trace: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--artifact", str(path)] + (["--trace"] if trace else [])
    out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy(), check=False)
    if out.returncode != 0:
        raise SystemExit(f"child {mode} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the parent -----------------------------------------------------------------------------------


def main():
    args = parse_args()
    if args.child == "build":
        build_artifact(Path(args.artifact), args.size_mb)
        return
    if args.child:
        print(json.dumps(child(args.child, Path(args.artifact), args.trace)))
        return
    django_setup(migrate=True)
    from django.conf import settings

    path = Path(args.artifact) if args.artifact else Path(settings.DATA_DIR) / "big.skops"
    if args.rebuild or not path.exists():  # in a subprocess: keeps this process (the children's parent) small
        subprocess.run([sys.executable, __file__, "--child", "build", "--artifact", str(path),
                        "--size-mb", str(args.size_mb)], check=True)
    size = path.stat().st_size
    print(f"load average (1 min) {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"artifact: {path} = {size / MiB:.1f} MiB ({size:,} bytes); MAX_UPLOAD_BYTES "
          f"{settings.MAX_UPLOAD_BYTES / MiB:.0f} MiB; storage {settings.ARTIFACT_STORAGE_DIR}\n")
    results = {}
    for mode in MODES:
        results[mode] = run_child(mode, path, trace=False)
        if not args.no_tracemalloc:
            traced = run_child(mode, path, trace=True)
            results[mode]["traced_peak"] = traced["traced_peak"]
            results[mode]["traced_phases"] = traced["phases"]
        r = results[mode]
        print(f"  {mode}: RSS before {r['rss_before'] / MiB:.0f} MiB, peak {r['peak_rss'] / MiB:.0f} MiB "
              f"(reset: {r['peak_reset']}), ru_maxrss {r['ru_maxrss'] / MiB:.0f} MiB", flush=True)

    def mib(v):
        return "—" if v is None else f"{v / MiB:.0f}"

    print("\n| run | RSS before MiB | peak RSS MiB | peak − before MiB | ÷ artifact | tracemalloc peak MiB "
          "| ÷ artifact | ru_maxrss MiB | wall s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for mode, r in results.items():
        over = r["peak_rss"] - r["rss_before"]
        traced = r["traced_peak"]
        print(f"| {mode} | {mib(r['rss_before'])} | {mib(r['peak_rss'])} | {mib(over)} | {over / size:.2f}× | "
              f"{mib(traced)} | {'—' if traced is None else f'{traced / size:.2f}×'} | {mib(r['ru_maxrss'])} | "
              f"{r['wall_s']:.2f} |")
    up = results["upload"]
    base = up["rss_before"]
    print("\nupload phases (peak RSS so far − RSS before, current RSS − RSS before, seconds since start):")
    for m in up["phases"]:
        print(f"  {m['phase']:<24} peak {(m['peak_rss'] - base) / MiB:7.0f} MiB   now "
              f"{(m['rss'] - base) / MiB:7.0f} MiB   t={m['t']:.2f} s")

    def over(mode):
        return results[mode]["peak_rss"] - results[mode]["rss_before"]

    if up.get("traced_phases"):
        print("\nupload phases under tracemalloc (traced peak so far, traced now, MiB; the run is slower):")
        for m in up["traced_phases"]:
            print(f"  {m['phase']:<24} peak {m['traced_peak'] / MiB:7.0f} MiB   now {m['traced'] / MiB:7.0f} MiB")
    lf = results["load-file"]
    print(f"\nthe model object: its trees hold {lf['tree_bytes'] / MiB:.0f} MiB in sklearn's own malloc'd buffers "
          f"(node structs + value arrays), which tracemalloc does not see; load-file leaves RSS "
          f"{(lf['rss_after'] - lf['rss_before']) / MiB:.0f} MiB above where it started.")

    extra = over("upload") - over("load-bytes")
    print(f"\nupload − load-bytes = {extra / MiB:+.0f} MiB ({extra / size:+.2f}× the artifact); upload = "
          f"{over('upload') / size:.2f}×, load-bytes = {over('load-bytes') / size:.2f}×, "
          f"model alone (load-file) = {over('load-file') / size:.2f}×, bytes alone (read) = {over('read') / size:.2f}×")
    if args.json:
        Path(args.json).write_text(json.dumps({"artifact_bytes": size, "results": results}, indent=2))


if __name__ == "__main__":
    main()
