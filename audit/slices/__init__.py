"""Worst-slice discovery: conjunctions of conditions where the model does worse than on the rest of the data,
found on one half of the rows and confirmed on the other with the false discovery rate controlled."""
