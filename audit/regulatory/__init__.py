"""Regulatory tables: the four-fifths rule (29 CFR 1607.4(D)) and NYC Local Law 144 impact ratios."""
