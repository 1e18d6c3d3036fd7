"""Default parameters of every kind on the flagship credit model (demo v2 hyperparameters), 1,000 rows.

Timings are printed, not asserted tightly: this only guards against an analysis becoming unusable. The worker
runs with one OpenMP thread per process, and so does this test (see conftest).
"""

import json
import time

from explain.analyses import ANALYSES

from .conftest import credit_hgb, credit_xy


def test_default_params_on_the_credit_pipeline_with_1000_rows(capsys):
    X, y = credit_xy(1000, random_state=42)
    model = credit_hgb()
    timings = {}
    for kind, module in ANALYSES.items():
        params = module.validate_params({}, n_rows=len(X), columns=list(X.columns))
        started = time.perf_counter()
        result = module.run(model, X, y, task="classification", params=params, progress=lambda p, m: None)
        timings[kind] = time.perf_counter() - started
        size = len(json.dumps(result, allow_nan=False))
        timings[kind] = (timings[kind], size)
    with capsys.disabled():
        print("\nDefault params, credit HGB pipeline (300 trees), 1,000 rows:")
        for kind, (seconds, size) in timings.items():
            print(f"  {kind:24s} {seconds:6.2f} s   result {size / 1024:7.0f} KiB")
    assert all(seconds < 120 for seconds, _ in timings.values())
