"""Group membership inferred from names and places (BISG / BIFSG on the Census 2010 tables) and the disparity
estimators that stay honest about it: probability-weighted, corrected (BIRDiE) and partial-identification bounds.
Arrays in, numbers out: no I/O beyond reading the tables, no configuration."""
