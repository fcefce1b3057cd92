"""Running an audit: run_audit as the list of its steps, audits of files larger than memory, writing outputs."""
