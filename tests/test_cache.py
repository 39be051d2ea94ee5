"""The embedding cache: keyed by content, so moved, renamed and copied crops still hit."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from reid.matching.cache import CACHE_DIRNAME, EmbeddingCache


@pytest.fixture
def persons(tmp_path):
    root = tmp_path / "persons"
    (root / "id_1").mkdir(parents=True)
    (root / "id_2").mkdir()
    (root / "id_1" / "a.jpg").write_bytes(b"crop a")
    (root / "id_1" / "b.jpg").write_bytes(b"crop b")
    return root


def fill(persons, model="m1") -> None:
    cache = EmbeddingCache(persons, model)
    for name, value in (("a.jpg", 1.0), ("b.jpg", 2.0)):
        key = cache.key_for(persons / "id_1" / name)
        assert cache.get(key) is None
        cache.put(key, np.full(4, value))
    cache.save()


def test_a_second_run_finds_every_crop(persons):
    fill(persons)
    cache = EmbeddingCache(persons, "m1")
    assert cache.get(cache.key_for(persons / "id_1" / "b.jpg"))[0] == 2.0
    assert (cache.hits, cache.misses) == (1, 0)


def test_a_crop_moved_and_renamed_by_a_merge_is_still_found(persons):
    fill(persons)
    os.link(persons / "id_1" / "a.jpg", persons / "id_2" / "a__id_1.jpg")
    (persons / "id_1" / "a.jpg").unlink()
    cache = EmbeddingCache(persons, "m1")
    assert cache.get(cache.key_for(persons / "id_2" / "a__id_1.jpg"))[0] == 1.0


def test_a_copied_persons_folder_keeps_its_cache(persons, tmp_path):
    fill(persons)
    copy = shutil.copytree(persons, tmp_path / "elsewhere", copy_function=shutil.copy)  # new mtimes too
    cache = EmbeddingCache(copy, "m1")
    assert cache.get(cache.key_for(copy / "id_1" / "a.jpg"))[0] == 1.0


def test_changed_content_is_recomputed_once_its_time_or_size_changes(persons):
    fill(persons)
    crop = persons / "id_1" / "a.jpg"
    stat = crop.stat()
    crop.write_bytes(b"crop A")  # same size
    os.utime(crop, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime: only the content tells
    cache = EmbeddingCache(persons, "m1")
    # an unchanged path, size and time is trusted without reading the file (as make and rsync do)
    assert cache.get(cache.key_for(crop)) is not None
    os.utime(crop, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    cache = EmbeddingCache(persons, "m1")
    assert cache.get(cache.key_for(crop)) is None


def test_another_model_never_sees_these_embeddings(persons):
    fill(persons, "m1")
    cache = EmbeddingCache(persons, "m2")
    assert cache.get(cache.key_for(persons / "id_1" / "a.jpg")) is None


def test_a_damaged_cache_file_is_ignored(persons, caplog):
    fill(persons)
    for path in (persons / CACHE_DIRNAME).iterdir():
        path.write_bytes(b"PK\x03\x04 not really a zip")
    cache = EmbeddingCache(persons, "m1")
    assert cache.get(cache.key_for(persons / "id_1" / "a.jpg")) is None
    assert "ignoring unreadable embedding cache" in caplog.text


def test_an_unreadable_crop_has_no_key(persons):
    cache = EmbeddingCache(persons, "m1")
    assert cache.key_for(persons / "id_1" / "gone.jpg") is None


def test_no_model_key_disables_the_cache(persons):
    cache = EmbeddingCache(persons, None)
    key = cache.key_for(persons / "id_1" / "a.jpg")
    cache.put(key, np.ones(4))
    cache.save()
    assert not (persons / CACHE_DIRNAME).exists()


def test_an_unchanged_cache_is_not_rewritten(persons):
    fill(persons)
    path = next((persons / CACHE_DIRNAME).iterdir())
    written = path.stat().st_mtime_ns
    path.chmod(0o444)  # (root ignores this, so check the time too)
    cache = EmbeddingCache(persons, "m1")
    for name in ("a.jpg", "b.jpg"):
        assert cache.get(cache.key_for(persons / "id_1" / name)) is not None
    cache.save()
    assert path.stat().st_mtime_ns == written
    (persons / "id_1" / "b.jpg").unlink()  # an entry to drop: rewritten without it
    cache = EmbeddingCache(persons, "m1")
    assert cache.get(cache.key_for(persons / "id_1" / "a.jpg")) is not None
    cache.save()
    assert len(EmbeddingCache(persons, "m1")._vectors) == 1
