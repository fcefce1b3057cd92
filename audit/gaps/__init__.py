"""Gap explanations: which model inputs carry each disparity between groups, and which stand in for a protected
attribute (docs/gaps.md)."""
