"""The benchmark registry: target specs, names, and LFW View 2 recognised by its pairs."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.errors import UserValueError
from tests.helpers.synthetic_pairs import pairs_lines
from verification import benchmarks
from verification.pair_set import check_name
from verification.pairs import parse_pairs


def test_specs_name_registered_files_paths_and_custom_sets(tmp_path):
    root = tmp_path / "data"
    lfw = benchmarks.resolve_target("lfw", root, Path("aligned"))
    assert (lfw.name, lfw.format, lfw.path, lfw.images, lfw.final) == (
        "lfw",
        "lfw",
        root / "lfw_pairs.txt",
        Path("aligned"),
        "lfw_view2",
    )
    assert benchmarks.resolve_target("lfw", root, lfw_pairs=Path("p.txt")).path == Path("p.txt")
    cfp = benchmarks.resolve_target("cfp_fp", root)
    assert (cfp.format, cfp.path, cfp.final) == ("bin", root / "cfp_fp.bin", "cfp_fp_final")
    moved = benchmarks.resolve_target("agedb_30=/elsewhere/agedb_30.bin", root)
    assert (moved.name, moved.format, moved.path) == ("agedb_30", "bin", Path("/elsewhere/agedb_30.bin"))
    loose = benchmarks.resolve_target("/x/CFP-FP v2.bin", root)
    assert (loose.name, loose.format) == ("cfp_fp_v2", "bin")
    custom = benchmarks.resolve_target("office=/x/office_pairs.txt", root)
    assert (custom.name, custom.format, custom.final) == ("office", "list", "office_final")


@pytest.mark.parametrize(
    "spec, message",
    [
        ("nosuch", "unknown benchmark"),
        ("Bad-Name=/x.bin", "must be lowercase"),
        ("train=/x.bin", "not one of"),
    ],
)
def test_bad_specs_are_clear_errors(tmp_path, spec, message):
    with pytest.raises(UserValueError, match=message):
        benchmarks.resolve_target(spec, tmp_path)


def test_registered_names_are_valid_and_their_formats_known():
    for name, benchmark in benchmarks.BENCHMARKS.items():
        assert check_name(name) == name == benchmark.name
        assert benchmark.format in benchmarks.FORMATS


def test_view2_is_recognised_by_its_pairs_only(data_dir, tmp_path):
    view2 = parse_pairs(data_dir / "lfw_pairs.txt")
    assert view2.fingerprint() == benchmarks.VIEW2_FINGERPRINT
    assert benchmarks.lfw_format_name(view2, None) == "lfw"
    # The same pairs with other spacing and line endings are still View 2; one pair changed is not.
    lines = (data_dir / "lfw_pairs.txt").read_text().splitlines()
    (tmp_path / "crlf.txt").write_text("\r\n".join(" ".join(line.split()) for line in lines) + "\r\n")
    assert benchmarks.lfw_format_name(parse_pairs(tmp_path / "crlf.txt"), None) == "lfw"
    lines[1] = lines[1].replace("\t4", "\t3") if "\t4" in lines[1] else lines[1] + "x"
    (tmp_path / "lfw_pairs.txt").write_text("\n".join(lines) + "\n")
    assert benchmarks.lfw_format_name(parse_pairs(tmp_path / "lfw_pairs.txt"), None) == "lfw_pairs"


def test_other_pairs_files_are_named_apart_from_lfw(tmp_path):
    lines, _ = pairs_lines(2, 3)
    for stem, expected in (("pairs", "pairs"), ("cfp_fp", "cfp_fp_pairs"), ("2019 set", "set_2019_set")):
        path = tmp_path / f"{stem}.txt"
        path.write_text("\n".join(lines) + "\n")
        assert benchmarks.lfw_format_name(parse_pairs(path), None) == expected
    assert benchmarks.lfw_format_name(parse_pairs(tmp_path / "pairs.txt"), "lfw") == "lfw"  # as asked


def test_a_registry_line_is_all_a_new_benchmark_needs(tmp_path, monkeypatch):
    """One Benchmark line: the name alone then finds and loads its file under the data root."""
    import numpy as np
    from PIL import Image

    root = tmp_path / "data"
    (root / "office" / "a").mkdir(parents=True)
    for name in ("1.jpg", "2.jpg"):
        Image.fromarray(np.zeros((112, 96, 3), np.uint8)).save(root / "office" / "a" / name)
    (root / "office" / "pairs_list.txt").write_text("a/1.jpg a/2.jpg 1\na/2.jpg a/1.jpg 0\n" * 5)
    monkeypatch.setitem(
        benchmarks.BENCHMARKS,
        "office",
        benchmarks.Benchmark("office", "list", "office/pairs_list.txt", "an office's badge photos"),
    )
    pairs = benchmarks.load_target(benchmarks.resolve_target("office", root))
    assert pairs.name == "office" and len(pairs) == 10 and pairs.num_folds == 10
    assert benchmarks.final_name("office") == "office_final"
