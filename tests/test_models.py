"""The model catalogue, the settings checked against it, the download cache, and the one-line errors.

No network here: downloads are served from ``file://`` URLs of the shared copies (whose checksums are
the catalogue's) or by a replaced ``open_url``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import re
import shutil
import threading
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA_DIR, DATA_HINT, assert_clean_error, run_script, unavailable
from reid.core.backbones import BACKBONES, MERGE_THRESHOLDS, Backbone
from reid.core.config import DEFAULT_THRESHOLDS, MatchingConfig
from reid.core.errors import ModelNotFoundError, ReidError
from reid.matching import downloads
from reid.matching.features import load_extractor

WEIGHTS = DATA_DIR / "weights"
SHARED = {  # where ../shared/data keeps each OpenVINO backbone's official files
    "reid-0287": "intel/person-reidentification-retail-0287/FP32",
    "reid-0287-int8": "intel/person-reidentification-retail-0287/FP16-INT8",
    "reid-0288": "intel/person-reidentification-retail-0288/FP32",
    "reid-0277": "intel/person-reidentification-retail-0277/FP16",
    "osnet-x0.25": ".",
}
OPENVINO = [name for name, spec in BACKBONES.items() if spec.kind == "openvino"]


def shared_copy(backbone: str, name: str) -> Path:
    path = WEIGHTS / SHARED[backbone] / name
    if not path.is_file():
        unavailable(f"{path} is missing: {DATA_HINT}")
    return path


def served_locally(backbone: str) -> Backbone:
    """The catalogue entry with its URLs pointing at the shared copies (same bytes, same checksums)."""
    spec = BACKBONES[backbone]
    files = tuple(dataclasses.replace(f, url=shared_copy(backbone, f.name).as_uri()) for f in spec.files)
    return dataclasses.replace(spec, files=files)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(downloads.MODELS_ENV, str(tmp_path / "models"))
    return tmp_path / "models"


# The catalogue


def test_every_backbone_is_described_once_with_its_thresholds():
    assert set(BACKBONES) == set(MERGE_THRESHOLDS) == set(DEFAULT_THRESHOLDS)
    assert MatchingConfig().backbone == "resnet50" and BACKBONES["resnet50"].kind == "keras"
    for name, spec in BACKBONES.items():
        assert DEFAULT_THRESHOLDS[name] == spec.thresholds.raw
        assert spec.summary and spec.license and spec.dimension > 0
        if spec.kind == "keras":
            assert spec.keras_builder and spec.keras_preprocess and spec.keras_file.endswith(".h5")
            continue
        assert spec.kind == "openvino" and spec.input_size == (256, 128) and spec.preprocessing
        assert spec.files[0].name.endswith((".xml", ".onnx"))
        if spec.files[0].name.endswith(".xml"):
            assert [f.name for f in spec.files] == [spec.files[0].name, spec.files[0].name[:-4] + ".bin"]
        for file in spec.files:
            assert file.url.startswith("https://") and file.url.endswith("/" + file.name)
            assert len(file.sha256) == 64 and file.size > 0


@pytest.mark.parametrize("backbone", OPENVINO)
def test_the_catalogue_checksums_are_those_of_the_verified_copies(backbone):
    for file in BACKBONES[backbone].files:
        data = shared_copy(backbone, file.name).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (file.size, file.sha256)


def test_thresholds_switch_with_camera_normalisation_unless_one_is_given():
    config = MatchingConfig(backbone="reid-0287")
    thresholds = BACKBONES["reid-0287"].thresholds
    assert config.threshold_for(camera_normalised=True) == thresholds.camera_normalised
    assert config.threshold_for(camera_normalised=False) == config.effective_threshold == thresholds.raw
    assert thresholds.camera_normalised < thresholds.raw  # different scales: the threshold switches with the mode
    given = MatchingConfig(backbone="reid-0287", threshold=0.5)
    assert given.threshold_for(True) == given.threshold_for(False) == given.effective_threshold == 0.5
    assert MatchingConfig().effective_threshold == BACKBONES["resnet50"].thresholds.raw


@pytest.mark.parametrize(
    "settings, fragment",
    [
        ({"backbone": "vgg16"}, "backbone must be one of resnet50"),
        ({"backbone": "reid-0287", "weights": "imagenet"}, "exist only for the Keras backbones"),
        ({"backbone": "reid-0287", "weights": "none"}, "exist only for the Keras backbones"),
        ({"backbone": "osnet-x0.25", "weights": "model.h5"}, "must be an OpenVINO .xml"),
        ({"backbone": "reid-0288", "input_height": 224}, "fixed at 256x128"),
        ({"backbone": "resnet50", "weights": "osnet.onnx"}, "are for a re-ID backbone"),
        ({"inference_precision": "f16"}, "inference_precision must be one of f32, auto"),
        ({"threads": -1}, "threads must not be negative"),
        ({"device": "gpu0"}, "device must be auto, cpu, cuda, cuda:N or an OpenVINO device name"),
    ],
)
def test_settings_that_cannot_work_are_refused(settings, fragment):
    with pytest.raises(ValueError, match=fragment):
        MatchingConfig(**settings)


def test_weights_file_tells_names_from_files():
    assert [MatchingConfig(weights=w).weights_file for w in ("default", "imagenet", "none")] == [None] * 3
    assert MatchingConfig(backbone="reid-0287", weights="m.XML").weights_file == Path("m.XML")
    for device in ("auto", "cpu", "cuda", "cuda:1", "GPU", "GPU.1", "NPU"):
        MatchingConfig(device=device)


# Downloads into the cache


def test_a_missing_model_is_downloaded_checked_and_then_found_in_the_cache(cache, monkeypatch):
    spec = served_locally("reid-0287")
    main = downloads.official_files(spec)
    assert main == cache / "reid-0287" / "person-reidentification-retail-0287.xml"
    assert sorted(p.name for p in main.parent.iterdir()) == sorted(f.name for f in spec.files)  # no temp file left
    for file in spec.files:
        assert downloads.sha256_of(main.parent / file.name) == file.sha256

    def offline(url: str):
        raise AssertionError(f"{url} fetched again")

    monkeypatch.setattr(downloads, "open_url", offline)
    assert downloads.official_files(spec) == main


@pytest.fixture
def server(tmp_path):
    """An HTTP server on loopback serving the shared weights folder: the download path as it runs online."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(WEIGHTS))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    thread.join()


def served_over_http(backbone: str, base: str, missing: bool = False) -> Backbone:
    spec = BACKBONES[backbone]
    shared_copy(backbone, spec.files[0].name)
    folder = "nowhere" if missing else SHARED[backbone]
    files = tuple(dataclasses.replace(f, url=f"{base}/{folder}/{f.name}") for f in spec.files)
    return dataclasses.replace(spec, files=files)


def test_a_download_over_http_is_checked_and_kept(cache, server):
    main = downloads.official_files(served_over_http("reid-0288", server))
    assert main == cache / "reid-0288" / "person-reidentification-retail-0288.xml"
    assert [downloads.sha256_of(main.parent / f.name) for f in BACKBONES["reid-0288"].files] == [
        f.sha256 for f in BACKBONES["reid-0288"].files
    ]


def test_a_server_without_the_file_is_one_line_and_leaves_nothing(cache, server):
    spec = served_over_http("reid-0288", server, missing=True)
    pattern = r"could not be downloaded \(HTTP 404 .*\): person-reidentification-retail-0288.xml from http://"
    with pytest.raises(ModelNotFoundError, match=pattern) as error:
        downloads.official_files(spec)
    assert "\n" not in str(error.value) and list((cache / "reid-0288").iterdir()) == []


def test_a_download_that_does_not_match_its_checksum_is_not_kept(cache):
    spec = served_locally("osnet-x0.25")
    bad = dataclasses.replace(spec, files=(dataclasses.replace(spec.files[0], sha256="0" * 64),))
    with pytest.raises(ModelNotFoundError) as error:
        downloads.official_files(bad)
    message = str(error.value)
    assert "\n" not in message and "not the expected file" in message and "--weights PATH" in message
    assert list((cache / "osnet-x0.25").iterdir()) == []


def test_a_download_larger_than_expected_is_cut_short_and_not_kept(cache):
    spec = served_locally("osnet-x0.25")
    small = dataclasses.replace(spec, files=(dataclasses.replace(spec.files[0], size=1000),))
    with pytest.raises(ModelNotFoundError, match="got 1001 bytes"):
        downloads.official_files(small)
    assert list((cache / "osnet-x0.25").iterdir()) == []


def test_offline_a_missing_model_names_every_file_the_urls_the_cache_and_the_way_out(cache, monkeypatch):
    def unreachable(url: str):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(downloads, "open_url", unreachable)
    spec = BACKBONES["reid-0287"]
    with pytest.raises(ModelNotFoundError) as error:
        downloads.official_files(spec)
    message = str(error.value)
    assert "\n" not in message and message.startswith("reid-0287 needs 2 model files")
    for file in spec.files:  # the .xml and the .bin, in one message
        assert f"{file.name} from {file.url}" in message
    assert f"into {cache / 'reid-0287'}/" in message and downloads.MODELS_ENV in message
    assert "--weights PATH: an OpenVINO .xml with its .bin of the same name beside it" in message

    # the user copies the one file the message used to name: the next message names only what is left
    shutil.copy(shared_copy("reid-0287", spec.files[0].name), cache / "reid-0287" / spec.files[0].name)
    with pytest.raises(ModelNotFoundError) as error:
        downloads.official_files(spec)
    message = str(error.value)
    assert message.startswith("reid-0287 needs 1 model file that is not") and spec.files[0].name not in message
    assert f"{spec.files[1].name} from {spec.files[1].url}" in message


def test_a_damaged_cached_file_is_downloaded_again(cache):
    spec = served_locally("osnet-x0.25")
    target = cache / "osnet-x0.25" / spec.files[0].name
    target.parent.mkdir(parents=True)
    target.write_bytes(b"truncated")
    assert downloads.official_files(spec) == target
    assert downloads.sha256_of(target) == spec.files[0].sha256


def test_the_default_weights_come_from_the_cache_and_match_the_file_itself(cache, labelled_crops):
    from reid.matching.openvino_backend import OpenVinoExtractor

    paths = sorted(labelled_crops.glob("003/*.png"))
    default = OpenVinoExtractor(MatchingConfig(backbone="reid-0288"), served_locally("reid-0288"))
    assert default.path.parent == cache / "reid-0288"
    by_path = OpenVinoExtractor(
        MatchingConfig(
            backbone="reid-0288", weights=str(shared_copy("reid-0288", "person-reidentification-retail-0288.xml"))
        )
    )
    np.testing.assert_array_equal(default.embed_files(paths)[0], by_path.embed_files(paths)[0])


def test_a_network_of_another_shape_is_refused_in_one_line(tmp_path):
    import openvino as ov
    import openvino.opset13 as ops

    image = ops.parameter([1, 3, 224, 224], ov.Type.f32, name="image")
    ov.save_model(ov.Model([ops.reduce_mean(image, [2, 3], False)], [image], "classifier"), tmp_path / "other.xml")
    with pytest.raises(ReidError, match=r"other.xml is not a reid-0288-style network: it takes \[1,3,224,224\]"):
        load_extractor(MatchingConfig(backbone="reid-0288", weights=str(tmp_path / "other.xml")))


# One-line errors from the script


@pytest.fixture
def persons(tmp_path, labelled_crops) -> Path:
    """A tiny persons folder: a folder, its exact copy, and a folder of another person."""
    for name, pid, camera in (("id_1", "001", "01"), ("id_2", "001", "01"), ("id_3", "003", "01")):
        (tmp_path / "persons" / name).mkdir(parents=True)
        for crop in sorted((labelled_crops / pid).glob(f"{camera}_*.png")):
            shutil.copy2(crop, tmp_path / "persons" / name / crop.name)
    return tmp_path


def dry_run(workdir: Path, backbone: str, weights: Path | str):
    args = ["--dry-run", "--backbone", backbone, "--weights", weights, "--no-progress"]
    return run_script("deeplearningg_reID.py", *args, cwd=workdir)


@pytest.mark.slow
def test_a_re_id_backbone_runs_end_to_end(persons):
    proc = dry_run(persons, "reid-0287", shared_copy("reid-0287", "person-reidentification-retail-0287.xml"))
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"reid-0287, threshold 0\.450", proc.stdout), proc.stdout
    assert re.search(r"id_1 \(8 crops\)\s+<-\s+id_2 \(8 crops\)\n", proc.stdout), proc.stdout


def test_a_missing_weights_file_is_one_line(persons):
    proc = dry_run(persons, "reid-0287", persons / "nope.xml")
    assert_clean_error(
        proc, 1, f"weights files {persons / 'nope.xml'} and {persons / 'nope.bin'} not found (--weights;"
    )


def test_a_weights_file_of_the_wrong_type_is_one_line(persons):
    assert_clean_error(dry_run(persons, "osnet-x0.25", WEIGHTS / "mobilenet_2_5_224_tf_no_top.h5"), 2, ".onnx")


@pytest.mark.slow
def test_an_xml_without_its_bin_is_one_line(persons):
    xml = persons / "lonely.xml"
    shutil.copy(shared_copy("reid-0288", "person-reidentification-retail-0288.xml"), xml)
    proc = dry_run(persons, "reid-0288", xml)
    assert_clean_error(
        proc, 1, "lonely.bin not found (--weights; an OpenVINO .xml needs its .bin of the same name beside"
    )


@pytest.mark.slow
def test_a_file_that_is_not_a_network_is_one_line(persons):
    (persons / "fake.onnx").write_bytes(b"\x00" * 100)
    assert_clean_error(dry_run(persons, "osnet-x0.25", persons / "fake.onnx"), 1, "cannot load")


def test_offline_without_a_cached_model_the_script_says_where_to_get_it(persons, monkeypatch):
    monkeypatch.setenv(downloads.MODELS_ENV, str(persons / "models"))
    for proxy in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(proxy, "http://127.0.0.1:9")  # nothing listens there: refused at once
    proc = dry_run(persons, "reid-0287", "default")
    assert_clean_error(proc, 1, "reid-0287 needs 2 model files that are not in the model cache")
    assert str(persons / "models" / "reid-0287") in proc.stderr and BACKBONES["reid-0287"].files[0].url in proc.stderr
    assert "--weights PATH" in proc.stderr
    assert not any(p.is_file() for p in (persons / "models").rglob("*"))
