"""Explanation quality within an audit: faithfulness, randomisation sanity and agreement between methods."""
