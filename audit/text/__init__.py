"""Text-model bias audits: identity lexicons, counterfactual swaps, template probes, identity-mention groups."""
