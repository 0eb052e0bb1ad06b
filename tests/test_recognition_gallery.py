"""Gallery building, saving and identity search (brute force and faiss HNSW) against NumPy."""

import numpy as np
import pytest

from recognition.gallery import UNKNOWN, Gallery, IdentitySearcher, Match, decide
from recognition.index import BruteForceIndex, HnswIndex, build_index


def unit(rows):
    rows = np.asarray(rows, dtype=np.float64)
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def random_enrolled(rng, identities=6, photos=3, dim=8):
    return {f"person{i}": [(f"p{i}_{j}.jpg", rng.normal(size=dim)) for j in range(photos)] for i in range(identities)}


def test_mean_mode_is_normalised_mean_of_normalised_embeddings():
    enrolled = {
        "bob": [("a.jpg", np.array([3.0, 0.0])), ("b.jpg", np.array([0.0, 0.5]))],
        "amy": [("c.jpg", np.array([0.0, -2.0]))],
        "nobody": [],
    }
    gallery = Gallery.from_enrolled(enrolled, "mean")
    assert gallery.identities == ["amy", "bob"]  # sorted; identities without photos left out
    np.testing.assert_allclose(gallery.embeddings, [[0, -1], [np.sqrt(0.5), np.sqrt(0.5)]], atol=1e-6)
    assert gallery.sources == ["c.jpg", "a.jpg|b.jpg"]
    assert gallery.meta["enroll_mode"] == "mean"


def test_all_mode_keeps_every_photo():
    gallery = Gallery.from_enrolled(random_enrolled(np.random.default_rng(0), 4, 3), "all")
    assert len(gallery) == 12
    assert np.bincount(gallery.labels).tolist() == [3, 3, 3, 3]
    np.testing.assert_allclose(np.linalg.norm(gallery.embeddings, axis=1), 1.0, atol=1e-6)


def test_bad_mode_and_empty_gallery():
    with pytest.raises(ValueError, match="enroll mode"):
        Gallery.from_enrolled({"a": [("x", np.ones(2))]}, "median")
    with pytest.raises(ValueError, match="no identity"):
        Gallery.from_enrolled({"a": []}, "mean")


def test_save_load_round_trip_and_no_silent_overwrite(tmp_path):
    gallery = Gallery.from_enrolled(
        random_enrolled(np.random.default_rng(1)), "all", meta=dict(model="/m", flip="concat")
    )
    path = gallery.save(tmp_path / "g.npz")
    loaded = Gallery.load(path)
    np.testing.assert_array_equal(loaded.embeddings, gallery.embeddings)
    assert loaded.identities == gallery.identities and loaded.sources == gallery.sources
    assert loaded.meta == dict(model="/m", flip="concat", enroll_mode="all")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="--overwrite"):
        gallery.save(path)
    assert path.read_bytes() == before


def test_load_rejects_foreign_npz(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.ones(3))
    with pytest.raises(ValueError, match="other.npz: not a gallery"):
        Gallery.load(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        Gallery.load(tmp_path / "missing.npz")


def test_brute_force_top_k_matches_numpy_sort():
    rng = np.random.default_rng(2)
    gallery, queries = unit(rng.normal(size=(50, 16))), unit(rng.normal(size=(7, 16)))
    scores, ids = BruteForceIndex(gallery, query_chunk=3).search(queries, 5)
    expected = np.argsort(-(queries @ gallery.T), axis=1)[:, :5]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ gallery.T, expected, 1), rtol=1e-5)
    assert BruteForceIndex(gallery).search(queries, 500)[1].shape == (7, 50)  # k capped at N


def test_hnsw_finds_the_exact_neighbours_on_a_small_gallery():
    rng = np.random.default_rng(3)
    gallery, queries = unit(rng.normal(size=(300, 16))), unit(rng.normal(size=(20, 16)))
    exact_ids = BruteForceIndex(gallery).search(queries, 3)[1]
    approx_scores, approx_ids = HnswIndex(gallery, neighbours=16, ef_search=300).search(queries, 3)
    np.testing.assert_array_equal(approx_ids, exact_ids)
    np.testing.assert_allclose(approx_scores, np.take_along_axis(queries @ gallery.T, exact_ids, 1), rtol=1e-4)


def test_index_rejects_wrong_dimension_and_kind():
    index = BruteForceIndex(np.eye(4))
    with pytest.raises(ValueError, match="3 dimensions, the gallery 4"):
        index.search(np.ones((1, 3)), 1)
    with pytest.raises(ValueError, match="index kind"):
        build_index("kdtree", np.eye(4))


@pytest.mark.parametrize("kind", ["brute", "hnsw"])
def test_identity_search_scores_each_identity_by_its_best_row(kind):
    rng = np.random.default_rng(4)
    enrolled = random_enrolled(rng, identities=10, photos=4, dim=12)
    gallery = Gallery.from_enrolled(enrolled, "all")
    queries = unit(rng.normal(size=(5, 12)))
    results = IdentitySearcher(gallery, kind).search(queries, k=3)
    row_scores = queries @ gallery.embeddings.T
    for query_scores, matches in zip(row_scores, results, strict=True):
        best_per_identity = {
            name: query_scores[gallery.labels == label].max() for label, name in enumerate(gallery.identities)
        }
        expected = sorted(best_per_identity, key=best_per_identity.get, reverse=True)[:3]
        assert [m.identity for m in matches] == expected
        for match in matches:
            assert match.score == pytest.approx(best_per_identity[match.identity], abs=1e-5)


def test_decide_unknown_below_threshold_and_same_at_threshold():
    matches = [Match("amy", 0.40), Match("bob", 0.1)]
    assert decide(matches, 0.40) == "amy"  # same rule as eval: accept when score >= threshold
    assert decide(matches, 0.41) == UNKNOWN
    assert decide([], 0.0) == UNKNOWN


def test_missing_faiss_gives_a_clear_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "faiss", None)  # makes `import faiss` raise ImportError
    with pytest.raises(ImportError, match="pip install faiss-cpu.*--index brute"):
        HnswIndex(np.eye(4))
    assert len(BruteForceIndex(np.eye(4))) == 4  # the default index needs no faiss


def test_enroll_records_photos_relative_to_the_folder_or_none(tmp_path):
    from recognition.enroll import enroll
    from recognition.photos import FaceResult, PhotoResult
    from recognition.quality import QualityReport

    class Embedder:
        flip, image_size = "concat", (112, 96)

        def process(self, photo):
            report = QualityReport(0.99, 30.0, 60.0, 0.0, 0.0, 100.0)
            return PhotoResult(photo, [FaceResult(None, report, np.ones(4, np.float32))])

    photos = {"amy": [tmp_path / "people" / "amy" / "1.jpg"]}
    gallery = enroll(photos, Embedder(), "all", source_root=tmp_path / "people", log=print)
    assert gallery.sources == ["amy/1.jpg"] and "model" not in gallery.meta
    hidden = enroll(photos, Embedder(), "all", source_root=tmp_path / "people", log=print, keep_sources=False)
    assert hidden.sources == [""]


def test_csv_escapes_formulas_and_is_private(tmp_path):
    import csv
    import stat

    from recognition.search import write_csv

    row = dict(
        photo='=HYPERLINK("x")',
        face=0,
        status="identified",
        identity="@SUM(A1)",
        score="-0.1000",
        top_k="+evil:0.9",
        box="1 2 3 4",
        reason="-2+3",
    )
    path = tmp_path / "out.csv"
    assert write_csv([row], path) == 1
    written = next(csv.DictReader(path.open()))
    assert written["photo"] == '\'=HYPERLINK("x")' and written["identity"] == "'@SUM(A1)"
    assert written["top_k"] == "'+evil:0.9" and written["reason"] == "'-2+3"
    assert written["score"] == "-0.1000"  # a number stays a number
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.with_name("out.csv.partial").exists()
