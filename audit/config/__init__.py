"""The audit's settings: AuditConfig and its sections, validated in one place, from TOML or Python."""
