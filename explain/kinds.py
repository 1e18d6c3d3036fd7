"""Every job kind the engine can run: the explainability analyses and the robustness/security analyses."""

from .analyses import ANALYSES
from .robustness import ROBUSTNESS

KINDS = {**ANALYSES, **ROBUSTNESS}
EXPLAINABILITY = tuple(ANALYSES)
ROBUSTNESS_KINDS = tuple(ROBUSTNESS)
HARDENING_KINDS = ("adversarial_training", "defensive_distillation")
