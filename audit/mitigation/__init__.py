"""What a fix would cost: the frontier of group-specific thresholds under a fairness constraint, solved exactly
from each group's ROC hull, beside group-blind options, chosen on one half of the rows and measured on the other."""
