"""Compliance dossiers filled from an audit record, every field linked to its evidence (docs/dossiers.md)."""

from audit.dossiers._build import TEMPLATES, build_dossier, load_template
from audit.dossiers._sources import SOURCES
from audit.dossiers._verify import verify_dossier

__all__ = ["SOURCES", "TEMPLATES", "build_dossier", "load_template", "verify_dossier"]
