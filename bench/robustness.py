"""Time every job kind with its default parameters on the demo models, the way a worker runs it.

    BULWARK_DATA_DIR=/tmp/bulwark-kindbench .venv/bin/python bench/robustness.py \
        [--models credit-scoring,breast-cancer] [--kinds stress_test,adversarial_evasion] [--json out.json]

1. Starts from a fresh data dir: it wipes BULWARK_DATA_DIR if it holds the `.kindbench` marker and refuses a
   non-empty dir without it. Migrates and runs `seed_demo`, so the models, versions and datasets are exactly
   the ones `make run` shows (seed_demo also queues its own demo jobs; nothing consumes them here).
2. For each version of each demo model (or only the newest, with --latest), for each kind: `job_enqueue`
   with no params (so the kind's defaults; the ensemble gets every other version of the model as members),
   then `job_execute` in this process: the task body a worker runs, minus the broker hop (bench/jobs.py
   measures that hop). One thread for OpenMP/BLAS, as config/celery.py sets for the workers.
3. Prints wall and CPU seconds per kind and version, the rows analysed, the status and a verdict against the
   2-minute target for default settings. A job that ends `failed` with a message and no traceback refused
   cleanly (e.g. poisoning an ONNX model, which cannot be refitted): it shows as "n/a" with its reason.
   A failure with a traceback is a crash, and fails the bench.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy is imported: like the workers

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import database_label, django_setup, fresh_data_dir  # noqa: E402

TARGET_SECONDS = 120


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", help="comma-separated demo model names (default: all four)")
    parser.add_argument("--kinds", help="comma-separated job kinds (default: every kind)")
    parser.add_argument("--latest", action="store_true", help="only the newest version of each model")
    parser.add_argument("--json", help="write the results here as JSON too")
    return parser.parse_args()


def run_kind(actor, version, kind: str) -> dict:
    from explain import services as jobs
    from explain.models import AnalysisJob

    params = {}
    if kind == "ensemble":
        params["members"] = list(version.model.versions.exclude(pk=version.pk).order_by("number")
                                 .values_list("number", flat=True))
        if not params["members"]:
            return {"status": "skipped", "note": "the model has a single version: nothing to ensemble"}
    job = jobs.job_enqueue(actor=actor, version=version, kind=kind, params=params)
    load = os.getloadavg()[0]
    cpu, started = time.process_time(), time.perf_counter()
    jobs.job_execute(job_id=job.pk, hostname="kindbench")
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    job = AnalysisJob.objects.get(pk=job.pk)
    rows = len((job.result or {}).get("rows_used") or [])
    status = job.status
    if status == "failed" and not job.error_traceback:
        status = "n/a"  # the analysis said why it does not apply to this model
    return {"status": status, "wall": wall, "cpu": cpu, "rows": rows, "load": load, "job": job.pk,
            "note": job.error_message[:200]}


def main():
    args = parse_args()
    data_dir = fresh_data_dir(".kindbench", "bench/robustness.py")
    django_setup(migrate=True)

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from explain.kinds import KINDS, ROBUSTNESS_KINDS
    from governance.management.commands.seed_demo import DEMO_MODEL_NAMES
    from governance.models import RegisteredModel

    started = time.perf_counter()
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    print(f"# bench/robustness.py: {database_label()}, data dir {data_dir}; seed_demo "
          f"{time.perf_counter() - started:.0f} s; {os.cpu_count()} CPUs", flush=True)
    actor = get_user_model().objects.get(username="contributor")
    models = args.models.split(",") if args.models else DEMO_MODEL_NAMES
    kinds = args.kinds.split(",") if args.kinds else list(KINDS)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        sys.exit(f"unknown kinds: {unknown}")

    results, columns = {}, []
    for name in models:
        model = RegisteredModel.objects.get(name=name)
        numbers = list(model.versions.order_by("number").values_list("number", flat=True))
        for number in numbers[-1:] if args.latest else numbers:
            version = model.versions.get(number=number)
            column = f"{name} v{number} ({version.flavour})"
            columns.append(column)
            for kind in kinds:
                version.refresh_from_db()
                outcome = run_kind(actor, version, kind)
                results[(column, kind)] = outcome
                shown = (f"{outcome['wall']:.1f} s (cpu {outcome['cpu']:.1f}, {outcome['rows']} rows, "
                         f"load {outcome['load']:.2f})" if "wall" in outcome else "")
                print(f"{column} {kind}: {outcome['status']} {shown} {outcome['note']}", flush=True)

    print()
    print("Seconds (wall) per kind with its default parameters; n/a = the job refused with a reason.")
    print()
    print("| kind | " + " | ".join(columns) + " |")
    print("| --- |" + " ---: |" * len(columns))
    worst, reasons = 0.0, {}
    for kind in kinds:
        cells = []
        for column in columns:
            outcome = results[(column, kind)]
            if outcome["status"] in ("skipped", "n/a"):
                cells.append(outcome["status"])
                reasons.setdefault(outcome["note"], []).append(f"{column} {kind}")
                continue
            worst = max(worst, outcome["wall"])
            mark = "" if outcome["status"] == "succeeded" else f" ({outcome['status']})"
            cells.append(f"{outcome['wall']:.1f}{mark}")
        label = kind + (" (robustness)" if kind in ROBUSTNESS_KINDS else "")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    for note, where in reasons.items():
        print(f"- n/a ({len(where)}×): {note}")
    failed = [f"{c} {k}: {v['note']}" for (c, k), v in results.items()
              if v["status"] not in ("succeeded", "skipped", "n/a")]
    print()
    print(f"slowest: {worst:.1f} s -> {'PASS' if worst <= TARGET_SECONDS and not failed else 'FAIL'} "
          f"(target: every kind's defaults within {TARGET_SECONDS} s); crashed: {failed or 'none'}")
    if args.json:
        Path(args.json).write_text(json.dumps({f"{c} / {k}": v for (c, k), v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
