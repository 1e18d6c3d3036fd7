"""Membership inference: can an attacker who sees the model's probabilities tell training rows from others?

Needs the training data (`_training`); classification only. Members are training rows, non-members the
evaluation sample's rows (rows identical to a training row are dropped from the non-members); both are sampled
to the same size (at most `max_rows_per_group`), so chance is 50%. Each group is split in half (`random_state`):
ART's MembershipInferenceBlackBox (`attack_model` "rf" / "gb" / "lr", input_type "prediction": the model's
predict_proba plus the one-hot true label) is trained on one half of both groups and evaluated on the other
half. Rows enter ART encoded in the attack space of `_space` (numeric columns standardised, categories as codes,
missing flags) through a BlackBoxClassifier that decodes them back to the original columns for the model.
The rule-based attack (MembershipInferenceBlackBoxRuleBased: "member" when the prediction is right) is reported
next to it.

Advantage = 2 × accuracy - 1 (= true-positive rate - false-positive rate on the balanced evaluation half): 0 is
chance, 1 a perfect attack. Precision and recall are about the "member" class.

Result keys: summary, charts, tables, rows_used, explainer, method, attack {accuracy, advantage, precision, recall,
auc}, rule_based {...}, members, non_members, overlap_dropped, vulnerable (advantage > `alert_advantage`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explain.analyses import AnalysisError
from explain.analyses._common import (
    COMMON_DEFAULTS,
    REGRESSION,
    Progress,
    check_known,
    choice_param,
    common_params,
    figure,
    float_param,
    fmt,
    int_param,
    json_safe,
    resolve_task,
    table,
)

from ._base import (
    MAX_TRAINING_ROWS,
    evaluation_target,
    load_art,
    numpy_seed,
    quiet,
    reject_reserved,
    split_engine_params,
    training_data,
)
from ._evasion import class_positions, make_space
from ._space import SpaceModel, blackbox

KIND = "membership_inference"
TITLE = "Membership inference attack"
DEFAULT_PARAMS = {**COMMON_DEFAULTS, "max_rows_per_group": 500, "attack_model": "rf", "alert_advantage": 0.1}
REQUIRES_TARGET = True


def validate_params(params: dict, *, n_rows: int | None, columns: list[str]) -> dict:
    reject_reserved(params)
    params = check_known(params, DEFAULT_PARAMS)
    cleaned = common_params(params, {})
    cleaned["max_rows_per_group"] = int_param(params, "max_rows_per_group", minimum=10, maximum=MAX_TRAINING_ROWS)
    cleaned["attack_model"] = choice_param(params, "attack_model", ("rf", "gb", "lr"))
    cleaned["alert_advantage"] = float_param(params, "alert_advantage", minimum=0.0, maximum=1.0)
    return cleaned


def _row_keys(frame: pd.DataFrame) -> pd.Index:
    return pd.Index(pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy())


def rates(truth: np.ndarray, guess: np.ndarray) -> dict:
    """accuracy, advantage (2 acc - 1), precision and recall of "member" (1)."""
    truth, guess = np.asarray(truth).astype(int), np.asarray(guess).ravel().astype(int)
    accuracy = float(np.mean(truth == guess))
    predicted = guess == 1
    true_positive = int(np.sum(predicted & (truth == 1)))
    return {
        "accuracy": accuracy,
        "advantage": 2 * accuracy - 1,
        "precision": float(true_positive / predicted.sum()) if predicted.any() else None,
        "recall": float(true_positive / max(int((truth == 1).sum()), 1)),
        "true_positive_rate": float(np.mean(guess[truth == 1] == 1)) if (truth == 1).any() else None,
        "false_positive_rate": float(np.mean(guess[truth == 0] == 1)) if (truth == 0).any() else None,
    }


def run(model, X: pd.DataFrame, y: pd.Series | None, *, task: str, params: dict, progress) -> dict:
    load_art()
    from art.attacks.inference.membership_inference import MembershipInferenceBlackBox
    from sklearn.metrics import roc_auc_score, roc_curve

    report = Progress(progress)
    params, engine = split_engine_params(params)
    params = validate_params(params, n_rows=len(X), columns=list(X.columns))
    task = resolve_task(model, task)
    if task == REGRESSION:
        raise AnalysisError("membership inference here attacks class probabilities: it applies to classifiers, "
                            "not to this regression model")
    X_eval, target, outputs = evaluation_target(model, X, y, task, needed="membership inference")
    classes = outputs.classes
    X_train, y_train, info = training_data(engine, X, task, classes, title="membership inference",
                                           max_rows=MAX_TRAINING_ROWS, random_state=params["random_state"])
    report(3, "Choosing members and non-members")
    overlap = _row_keys(X_eval).isin(_row_keys(X_train))
    X_out, y_out = X_eval[~overlap], target[~overlap]
    if not len(X_out):
        raise AnalysisError("every row of the evaluation sample also appears in the training data: there are no "
                            "non-members to tell apart; evaluate on data the model was not trained on")
    n = min(len(X_train), len(X_out), params["max_rows_per_group"])
    if n < 10:
        raise AnalysisError(f"only {n} rows per group (members / non-members) are available; at least 10 are needed")
    generator = np.random.default_rng(params["random_state"])
    members = np.sort(generator.choice(len(X_train), size=n, replace=False))
    non_members = np.sort(generator.choice(len(X_out), size=n, replace=False))
    X_in, y_in = X_train.iloc[members], y_train.iloc[members]
    X_out, y_out = X_out.iloc[non_members], y_out.iloc[non_members]
    space = make_space(X, X_train)
    space_model = SpaceModel(model, space, classes)
    estimator = blackbox(space_model)
    A_in, A_out = space.encode(X_in), space.encode(X_out)
    label_in, label_out = class_positions(y_in, classes), class_positions(y_out, classes)
    half_in = generator.permutation(n) < n // 2
    half_out = generator.permutation(n) < n // 2
    report(10, "Querying the model")
    with quiet():
        proba_in, proba_out = space_model(A_in), space_model(A_out)
    report(30, "Training the attack model")
    with quiet(), numpy_seed(params["random_state"]):
        attack = MembershipInferenceBlackBox(estimator, input_type="prediction",
                                             attack_model_type=params["attack_model"])
        _seed_attack_model(attack, params["random_state"])
        attack.fit(A_in[half_in], label_in[half_in], A_out[half_out], label_out[half_out],
                   pred=proba_in[half_in], test_pred=proba_out[half_out])
        report(70, "Attacking the held-out halves")
        test_x = np.concatenate([A_in[~half_in], A_out[~half_out]])
        test_y = np.concatenate([label_in[~half_in], label_out[~half_out]])
        test_pred = np.concatenate([proba_in[~half_in], proba_out[~half_out]])
        truth = np.concatenate([np.ones((~half_in).sum()), np.zeros((~half_out).sum())])
        guess = attack.infer(test_x, test_y, pred=test_pred)
        scores = attack.infer(test_x, test_y, pred=test_pred, probabilities=True)
    # The rule-based attack of ART (MembershipInferenceBlackBoxRuleBased): "member" when the prediction is right;
    # computed from the same predictions (ART's version re-derives the number of classes from the labels present).
    rule_guess = (np.argmax(test_pred, axis=1) == test_y).astype(int)
    scores = np.asarray(scores, dtype=float)
    scores = scores[:, -1] if scores.ndim == 2 else scores.ravel()
    attack_rates = rates(truth, guess)
    attack_rates["auc"] = float(roc_auc_score(truth, scores)) if len(set(truth)) == 2 else None
    rule_rates = rates(truth, rule_guess)
    fpr, tpr, _ = roc_curve(truth, scores)
    vulnerable = attack_rates["advantage"] > params["alert_advantage"]
    result = {
        "kind": KIND,
        "rows_used": X_out.index.tolist(),
        "explainer": f"ART MembershipInferenceBlackBox (attack model {params['attack_model']}) and the rule-based "
                     "attack",
        "method": {
            "members": "training rows", "non_members": "evaluation rows not identical to a training row",
            "balanced": True, "rows_per_group": n,
            "protocol": "each group split in half: the attack model learns on one half of both groups and is scored "
                        "on the other half",
            "attack_features": "the model's predict_proba and the one-hot true label (input_type 'prediction')",
            "attack_space": "rows passed to ART encoded (numeric standardised, categories as codes, missing "
                            "flags) and decoded back to the original columns before each model query",
            "advantage": "2 × accuracy - 1 (= TPR - FPR on the balanced test half); 0 = chance, 1 = perfect",
            "alert_advantage": params["alert_advantage"],
            "random_state": params["random_state"],
        },
        "attack": attack_rates,
        "rule_based": rule_rates,
        "members": n,
        "non_members": n,
        "test_rows": int(len(truth)),
        "overlap_dropped": int(overlap.sum()),
        "training_data": info,
        "vulnerable": bool(vulnerable),
        "charts": [_chart(fpr, tpr, attack_rates["auc"])],
        "tables": [table("Membership inference on the held-out halves",
                         ["attack", "accuracy", "advantage", "precision", "recall", "TPR", "FPR"],
                         [[name, r["accuracy"], r["advantage"], r["precision"], r["recall"], r["true_positive_rate"],
                           r["false_positive_rate"]] for name, r in (("black-box (learned)", attack_rates),
                                                                     ("rule-based (correct = member)", rule_rates))])],
    }
    result["summary"] = {
        "Attack accuracy": f"{attack_rates['accuracy']:.3f} (chance 0.5)",
        "Advantage (2·acc − 1)": round(attack_rates["advantage"], 4),
        "Attack ROC-AUC": fmt(attack_rates["auc"], 3),
        "Precision / recall (member)": f"{fmt(attack_rates['precision'], 3)} / {fmt(attack_rates['recall'], 3)}",
        "Rule-based advantage": round(rule_rates["advantage"], 4),
        "Rows": f"{n} members, {n} non-members; scored on {len(truth)}",
        "Verdict": (f"vulnerable: the attack beats chance by more than {params['alert_advantage']:g}" if vulnerable
                    else f"no meaningful leak detected (advantage ≤ {params['alert_advantage']:g})"),
    }
    if result["overlap_dropped"]:
        result["summary"]["Overlap"] = (f"{result['overlap_dropped']} evaluation rows identical to a training row "
                                        "were not used as non-members")
    report(100, "Done")
    return json_safe(result)


def _seed_attack_model(attack, random_state: int) -> None:
    model = getattr(attack, "attack_model", None)
    if model is not None and "random_state" in model.get_params():
        model.set_params(random_state=random_state)


def _chart(fpr, tpr, auc) -> dict:
    fig = go.Figure(go.Scatter(x=[round(float(v), 5) for v in fpr], y=[round(float(v), 5) for v in tpr],
                               mode="lines", name=f"attack (AUC {fmt(auc, 3)})"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "#9E9E9E"},
                             name="chance"))
    fig.update_layout(xaxis_title="false-positive rate (non-members called members)",
                      yaxis_title="true-positive rate (members found)", height=380)
    return figure("Membership inference ROC curve", fig)
