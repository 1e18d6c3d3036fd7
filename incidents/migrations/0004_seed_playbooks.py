from django.db import migrations

COMMON = {
    "identify": [("Confirm the incident and set severity from the definitions", "incident_manager"),
                 ("Name the commander, scribe and liaison", "incident_manager"),
                 ("List the affected models and versions on the incident", "incident_manager")],
    "recover": [("Verify the released version's attestation and hash after recovery", "reviewer"),
                ("Watch the monitoring for 24 hours before closing", "incident_manager")],
}

PLAYBOOKS = {
    "evasion": {
        "identify": ["Collect the suspicious inputs and the model's outputs as evidence",
                     "Run an adversarial evasion analysis on the affected version"],
        "contain": ["Enable the adversarial-input detector as an input guard",
                    "Roll back to the previous approved version if it is more robust"],
        "eradicate": ["Harden the model (adversarial training) and register it as a new version"],
    },
    "poisoning": {
        "identify": ["Identify the training data sources and when they changed",
                     "Run a poisoning-sensitivity analysis on the training dataset"],
        "contain": ["Revoke versions trained on the suspect data", "Freeze the data pipeline"],
        "eradicate": ["Remove poisoned rows, retrain, and pass review again"],
    },
    "extraction": {
        "identify": ["Review query logs for high-volume or systematic querying",
                     "Check the fingerprint match of the suspect model (check suspect model job)"],
        "contain": ["Rate-limit the prediction endpoint", "Rotate the API tokens of the suspected clients",
                    "Harden outputs: labels only or rounded probabilities"],
        "eradicate": ["Run a model-extraction risk analysis and record the budget an attacker needed"],
    },
    "tampering": {
        "identify": ["Run verify_attestation on the deployed artifact",
                     "Check the audit log (verify_audit) for unexpected registry changes"],
        "contain": ["Revoke the tampered version", "Roll back to the last version whose attestation verifies"],
        "eradicate": ["Rotate artifact encryption keys and the attestation key if they may be exposed"],
    },
    "privacy": {
        "identify": ["Determine which personal data was exposed and whose",
                     "Run a membership-inference analysis on the affected version"],
        "contain": ["Revoke the leaking version", "Inform the data protection officer"],
        "eradicate": ["Retrain with privacy safeguards (regularisation, less memorisation)"],
    },
    "drift": {
        "identify": ["Compare live feature distributions with the evaluation dataset",
                     "Run stress tests and cross-validation on fresh data"],
        "contain": ["Roll back or add human review for affected decisions"],
        "eradicate": ["Retrain on recent data and register a new version"],
    },
    "harmful_output": {
        "identify": ["Collect the harmful outputs and the affected people or groups",
                     "Run the vulnerability scan for weak slices"],
        "contain": ["Revoke the version or add human review for the affected slice"],
        "eradicate": ["Fix the data or objective; update the model card's ethical considerations"],
    },
    "availability": {
        "identify": ["Identify the failing component (model, worker, storage, endpoint)"],
        "contain": ["Fail over or roll back to the previous version"],
        "eradicate": ["Fix the root cause and add a health check for it"],
    },
    "other": {
        "identify": ["Describe what happened and what is affected"],
        "contain": ["Decide on containment: revoke, roll back, or monitor"],
        "eradicate": ["Remove the cause"],
    },
}


def seed(apps, schema_editor):
    PlaybookStep = apps.get_model("incidents", "PlaybookStep")
    if PlaybookStep.objects.exists():
        return
    for category, phases in PLAYBOOKS.items():
        order = 0
        for phase in ("identify", "contain", "eradicate", "recover"):
            steps = [(text, role) for text, role in COMMON.get(phase, [])] if phase in ("identify", "recover") else []
            steps = (steps[:] if phase == "recover" else steps) + [(text, "incident_manager")
                                                                    for text in phases.get(phase, [])]
            for text, role in steps:
                order += 1
                PlaybookStep.objects.create(category=category, phase=phase, order=order, text=text, owner_role=role)


def unseed(apps, schema_editor):
    apps.get_model("incidents", "PlaybookStep").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("incidents", "0003_playbookstep_incident_affected_parties_and_more")]
    operations = [migrations.RunPython(seed, unseed)]
