"""The package a user installs (issue 34, point 3): `python -m build` makes the sdist and, from it, the wheel; the
wheel goes into a fresh virtual environment and runs from there, with nothing of this checkout on the path.

No package index is reached: the fresh environment's ``sitecustomize`` lets it import, from the dependencies
installed here, exactly the distributions the wheel asks for (its ``Requires-Dist``, followed through the
dependencies' own metadata); every other installed package is invisible to it. So "the core alone" means exactly
the core's dependency closure: a core code path that imports an extra fails here as it would on a user's machine.
"""

from __future__ import annotations

import email.parser
import importlib.metadata
import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.slow  # builds and installs the package twice: left out of `make test-fast`

ROOT = Path(__file__).resolve().parents[1]
DIST = "audit-toolkit"

pytest.importorskip("build", reason="the 'build' package is in the dev extra (make install)")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: the build backend installed here (setuptools, in the dev environment), no index needed
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=out,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return wheels[0]


def _wheel_requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        message = email.parser.Parser().parsestr(archive.read(metadata).decode())
    return message.get_all("Requires-Dist") or []


def _closure(requirements: list[str], extras: set[str]) -> set[str]:
    """Distributions (canonical names) that ``requirements`` with ``extras`` pull in, transitively."""
    wanted: set[str] = set()
    todo = [(Requirement(r), frozenset(extras)) for r in requirements]
    while todo:
        requirement, active = todo.pop()
        if requirement.marker is not None and not any(
            requirement.marker.evaluate({"extra": e}) for e in (active or {""})
        ):
            continue
        name = canonicalize_name(requirement.name)
        if name in wanted:
            continue
        wanted.add(name)
        try:
            below = importlib.metadata.distribution(requirement.name).requires or []
        except importlib.metadata.PackageNotFoundError:
            continue  # an optional dependency not installed here: nothing below it to allow either
        todo.extend((Requirement(r), frozenset(requirement.extras)) for r in below)
    return wanted


def _importable(allowed: set[str]) -> list[str]:
    """Top-level modules installed here that belong to an allowed distribution."""
    owners = importlib.metadata.packages_distributions()
    return sorted(
        module
        for module, dists in owners.items()
        if module not in ("audit", "explainers", "reports") and any(canonicalize_name(d) in allowed for d in dists)
    )


# The dependencies stay where they are (this environment's site-packages, off the fresh one's sys.path); a finder
# appended to sys.meta_path serves only the allowed top-level modules and distributions' metadata from there.
# Everything else is invisible, for imports and for importlib.metadata alike, as on a machine without it: a
# library that probes for an optional package (find_spec(...) is None) sees it missing rather than an error.
_SITECUSTOMIZE = """
import atexit, importlib.machinery, importlib.metadata, os, re, sys

_HERE = {dependencies!r}
_MODULES = frozenset({modules!r})
_DISTRIBUTIONS = frozenset({distributions!r})


class _AllowedDependencies(importlib.metadata.DistributionFinder):
    def find_spec(self, name, path=None, target=None):
        if path is not None or name not in _MODULES:
            return None  # a submodule is found through its package's __path__
        return importlib.machinery.PathFinder.find_spec(name, [_HERE])

    def find_distributions(self, context=importlib.metadata.DistributionFinder.Context()):
        here = importlib.metadata.DistributionFinder.Context(name=context.name, path=[_HERE])
        for found in importlib.metadata.MetadataPathFinder.find_distributions(here):
            if re.sub(r"[-_.]+", "-", found.metadata["Name"]).lower() in _DISTRIBUTIONS:
                yield found


sys.meta_path.append(_AllowedDependencies())


@atexit.register
def _record_imports():
    with open(os.environ["AUDIT_WHEEL_IMPORTS"], "a") as out:
        out.write(" ".join(sorted({{m.partition(".")[0] for m in sys.modules}})) + "\\n")
"""


def _environment(wheel: Path, folder: Path, *, extras: set[str]) -> dict[str, Path]:
    """A fresh virtual environment with the wheel installed and only ``extras``' closure importable."""
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    allowed = _closure(_wheel_requirements(wheel), extras)
    (site / "sitecustomize.py").write_text(
        _SITECUSTOMIZE.format(
            dependencies=sysconfig.get_paths()["purelib"], modules=_importable(allowed), distributions=sorted(allowed)
        )
    )
    return {"python": python, "audit": venv / "bin" / "audit", "site": site, "imports": folder / "imports.txt"}


def _run(env: dict[str, Path], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    variables = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    variables["AUDIT_WHEEL_IMPORTS"] = str(env["imports"])
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, cwd=cwd, env=variables)


def test_the_core_wheel_audits_a_scikit_learn_model_without_torch(wheel, tmp_path):
    from sklearn.ensemble import HistGradientBoostingClassifier

    from audit.datasets import load_adult

    env = _environment(wheel, tmp_path, extras=set())
    probe = (
        "import importlib.util, audit, reports, explainers; print(audit.__file__); "
        "print([m for m in ('torch', 'transformers', 'captum', 'dask') if importlib.util.find_spec(m)])"
    )
    where = _run(env, env["python"], "-c", probe, cwd=tmp_path)
    assert where.returncode == 0, where.stderr[-3000:]
    assert where.stdout.split("\n")[:2] == [str(env["site"] / "audit" / "__init__.py"), "[]"], where.stdout

    data = load_adult("test").sample(1500, random_state=0)
    numeric = ["age", "education-num", "hours-per-week", "capital-gain"]
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(data[numeric], data["income"] == ">50K")
    import joblib

    joblib.dump(model, tmp_path / "model.joblib")
    data.to_csv(tmp_path / "applicants.csv", index=False)
    (tmp_path / "audit.toml").write_text(
        textwrap.dedent(f"""
        [data]
        path = "applicants.csv"
        label = "income"
        positive_label = ">50K"
        sensitive = ["sex"]
        features = {numeric!r}
        [model]
        path = "model.joblib"
        [explainers]
        sample_size = 100
        background_size = 50
    """).replace("'", '"')
    )
    done = _run(env, env["audit"], "run", "audit.toml", "--out", "out", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert result["model"]["type"] == "HistGradientBoostingClassifier"
    assert (tmp_path / "out" / "report.html").stat().st_size > 10_000
    imported = set(env["imports"].read_text().split())
    assert not imported & {"torch", "transformers", "captum", "dask", "distributed"}, sorted(imported)
    assert {"audit", "sklearn", "shap", "plotly", "jinja2"} <= imported


def test_the_full_wheel_runs_the_demo_and_finds_its_bundled_files(wheel, tmp_path):
    env = _environment(wheel, tmp_path, extras={"all"})
    done = _run(env, env["audit"], "demo", "--out", "demo", "--sample", "2000", "--quiet", cwd=tmp_path)
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-3000:]  # 1: the demo model fails a rule
    assert (tmp_path / "demo" / "report.html").is_file() and (tmp_path / "demo" / "audit.json").is_file()
    done = _run(env, env["audit"], "dossier", "demo/audit.json", "--template", "eu-ai-act-annex-iv", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]

    check = textwrap.dedent("""
        import audit
        from audit import BUILTIN_LEXICONS, PRESETS, CausalLM, load_lexicon, load_preset
        from audit.datasets import heldout_tweets, load_adult
        from audit.demo.train_tweet_lm import DEFAULT_OUT
        from audit.dossiers._build import TEMPLATES, load_template
        from audit.probes._data import (BBQ_CATEGORIES, BOLD_DOMAINS, read_bbq, read_bold, read_crows_pairs,
                                        read_holisticbias, read_identity_lexicons, read_occupations, read_winobias)
        from importlib import resources
        from explainers.minilm_head import CARD_FILE, HEAD_FILE

        here = audit.__file__.rsplit("/", 2)[0]
        models = resources.files("explainers").joinpath("models")
        assert str(DEFAULT_OUT).startswith(here) and all(models.joinpath(f).is_file() for f in (HEAD_FILE, CARD_FILE))
        assert all(load_preset(name).rules for name in PRESETS) and len(PRESETS) >= 8
        assert all(load_lexicon(name) for name in BUILTIN_LEXICONS)
        assert all(load_template(name) for name in TEMPLATES)
        assert len(load_adult("train")) == 32561 and len(load_adult("test")) == 16281
        assert len(heldout_tweets(sample=50)) == 50
        assert read_crows_pairs() and read_winobias() and read_occupations() and read_holisticbias()[0]
        assert read_bbq() and all(read_bold(d) for d in BOLD_DOMAINS) and read_identity_lexicons()
        lm = CausalLM.from_pretrained(str(DEFAULT_OUT))
        print("ok", type(lm.model).__name__)
    """)
    done = _run(env, env["python"], "-c", check, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("ok"), done.stdout[-2000:] + done.stderr[-3000:]


def test_the_wheel_is_small_and_carries_no_tests_or_build_leftovers(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "notebooks/", "build/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert wheel.stat().st_size < 12 * 2**20, wheel.stat().st_size  # about 7.3 MB at 1.0: data sets and models
