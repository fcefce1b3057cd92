"""Inputs: reading tables, column roles, the positive-class rule, and the bundled data sets (adult/, tweets/)."""
