"""demo.py's evaluation stage: LFW View 2, plus every other benchmark found under the data root."""

from __future__ import annotations

import json

import demo


def test_other_benchmarks_found_under_the_data_root_are_evaluated_and_named(tmp_path, monkeypatch, capsys):
    root = tmp_path / "data"
    root.mkdir()
    for name in ("cfp_fp.bin", "agedb_30.bin", "unrelated.bin"):
        (root / name).write_bytes(b"")
    commands = []

    def fake_run(command):  # what eval_lfw.py would leave: its JSON
        commands.append(command)
        json_path = command[command.index("--json") + 1]
        with open(json_path, "w") as handle:
            json.dump({"accuracy_mean": 0.5, "accuracy_std": 0.01}, handle)

    monkeypatch.setattr(demo, "run", fake_run)
    run_dir = tmp_path / "run"
    (run_dir / "eval").mkdir(parents=True)
    results = demo.evaluate_other_benchmarks(root, run_dir, ["--run-dir", str(run_dir)])
    assert sorted(results) == ["agedb_30", "cfp_fp"]
    assert "other benchmarks under" in capsys.readouterr().out
    by_name = {c[c.index("--benchmark") + 1]: c for c in commands}
    assert by_name["cfp_fp"][by_name["cfp_fp"].index("--json") + 1] == str(run_dir / "eval" / "cfp_fp_final.json")
    assert "--run-dir" in by_name["agedb_30"]

    (root / "cfp_fp.bin").unlink()
    (root / "agedb_30.bin").unlink()
    assert demo.evaluate_other_benchmarks(root, run_dir, []) == {}
    assert "none (docs/benchmarks_eval.md" in capsys.readouterr().out
