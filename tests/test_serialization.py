"""tinylm.save / tinylm.load: round trips, exact model reproduction, atomic writes, and
clear errors for truncated or foreign files that never touch a good checkpoint."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError, nn, optim
from tinylm.serialization import load, save  # exported as tinylm.save / tinylm.load


def test_nested_structures_round_trip(tmp_path):
    obj = {
        "step": 10,
        "lr": 3e-4,
        "nan": math.nan,
        "inf": -math.inf,
        "name": "tiny",
        "flag": True,
        "nothing": None,
        "shape": (2, 3),
        "list": [1, "two", [3.0, None]],
        7: "an int key",
        "arrays": {
            "f16": np.arange(4, dtype=np.float16),
            "i32": np.arange(6, dtype=np.int32).reshape(2, 3),
            "bool": np.array([True, False]),
            "empty": np.zeros((0, 3)),
            "scalar": np.float32(2.5),
            "strided": np.arange(10.0)[::2],
        },
        "tensor": tinylm.tensor([[1.0, 2.0]]),
        "param": tinylm.tensor([1.5], dtype=tinylm.float64, requires_grad=True),
    }
    save(obj, tmp_path / "x.npz")
    got = load(tmp_path / "x.npz")
    assert got["step"] == 10 and isinstance(got["step"], int)
    assert got["lr"] == 3e-4 and math.isnan(got["nan"]) and got["inf"] == -math.inf
    assert got["name"] == "tiny" and got["flag"] is True and got["nothing"] is None
    assert got["shape"] == (2, 3) and got["list"] == [1, "two", [3.0, None]]
    assert got[7] == "an int key"
    for k, a in obj["arrays"].items():
        b = got["arrays"][k]
        assert type(b) is type(a) and b.dtype == a.dtype
        np.testing.assert_array_equal(b, a)
    assert isinstance(got["tensor"], tinylm.Tensor) and got["tensor"].dtype == np.float32
    np.testing.assert_array_equal(got["tensor"].numpy(), [[1.0, 2.0]])
    assert got["param"].requires_grad and got["param"].dtype == np.float64


def test_state_dict_round_trip_reproduces_outputs_exactly(tmp_path):
    tinylm.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 8), nn.TransformerBlock(8, 2), nn.Linear(8, 10))
    save(model.state_dict(), tmp_path / "model.npz")
    tinylm.manual_seed(1)
    fresh = nn.Sequential(nn.Embedding(10, 8), nn.TransformerBlock(8, 2), nn.Linear(8, 10))
    idx = np.array([[1, 2, 3, 4]])
    assert not np.array_equal(fresh(idx).detach().numpy(), model(idx).detach().numpy())
    fresh.load_state_dict(load(tmp_path / "model.npz"))
    np.testing.assert_array_equal(fresh(idx).detach().numpy(), model(idx).detach().numpy())


def test_full_checkpoint_resumes_training_exactly(tmp_path):
    def make():
        tinylm.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 3))
        return model, optim.AdamW(optim.weight_decay_groups(model, 0.1), lr=1e-2)

    rng = np.random.default_rng(0)
    batches = [(rng.random((5, 4), np.float32), rng.integers(0, 3, 5)) for _ in range(8)]

    def train(model, opt, batch_list):
        for x, y in batch_list:
            opt.zero_grad()
            tinylm.nn.functional.cross_entropy(model(tinylm.tensor(x)), y).backward()
            opt.step()

    model, opt = make()
    train(model, opt, batches)

    model2, opt2 = make()
    train(model2, opt2, batches[:4])
    ckpt = {"model": model2.state_dict(), "optim": opt2.state_dict(), "step": 4,
            "config": {"n_embd": 8, "vocab": 3}}  # fmt: skip
    save(ckpt, tmp_path / "ckpt.npz")
    back = load(tmp_path / "ckpt.npz")
    assert back["step"] == 4 and back["config"] == {"n_embd": 8, "vocab": 3}
    model3, opt3 = make()
    model3.load_state_dict(back["model"])
    opt3.load_state_dict(back["optim"])
    train(model3, opt3, batches[4:])
    for (_, a), (_, b) in zip(model.named_parameters(), model3.named_parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_save_replaces_atomically_and_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    save({"w": np.ones(3)}, path)
    good = path.read_bytes()

    # an object that cannot be saved fails before any file is touched
    with pytest.raises(TypeError, match=r"obj\['bad'\] has type set"):
        save({"w": np.zeros(3), "bad": {1, 2}}, path)
    assert path.read_bytes() == good

    # a crash in the middle of writing (disk full, …) leaves the old file and no temp file
    def crash(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="No space left"):
        save({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]
    np.testing.assert_array_equal(load(path)["w"], np.ones(3))

    save({"w": np.zeros(3)}, path)  # a successful save does replace it
    np.testing.assert_array_equal(load(path)["w"], np.zeros(3))
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]


@pytest.mark.parametrize("keep", [0, 10, 100, 1000, -200, -22])
def test_truncated_file_raises_and_is_left_alone(tmp_path, keep):
    path = tmp_path / "ckpt.npz"
    save({"w": np.arange(1000.0), "step": 3}, path)
    data = path.read_bytes()
    truncated = data[:keep]
    path.write_bytes(truncated)
    with pytest.raises(ValueError, match=r"ckpt\.npz.*not a readable tinylm checkpoint"):
        load(path)
    assert path.read_bytes() == truncated  # loading never modifies the file


def test_corrupted_bytes_are_detected(tmp_path):
    path = tmp_path / "ckpt.npz"
    save({"w": np.arange(1000.0)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF  # flip bits inside the array data: the zip CRC catches it
    path.write_bytes(bytes(data))
    with pytest.raises(TinyLMError, match="not a readable tinylm checkpoint"):
        load(path)


def test_foreign_files_give_clear_errors(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(TinyLMError, match="wrong file signature"):
        load(text)
    npy = tmp_path / "a.npy"
    np.save(npy, np.ones(3))
    with pytest.raises(TinyLMError, match="single .npy array"):
        load(npy)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.ones(3))
    with pytest.raises(TinyLMError, match="no manifest"):
        load(other)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load(tmp_path / "missing.npz")


def test_object_arrays_are_refused_so_loading_never_needs_pickle(tmp_path):
    with pytest.raises(TypeError, match="object array"):
        save({"x": np.array([{"a": 1}], dtype=object)}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="only str and int keys"):
        save({(1, 2): 3}, tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_load_onto_a_device(tmp_path):
    save({"t": tinylm.ones(2)}, tmp_path / "x.npz")
    assert load(tmp_path / "x.npz", device="cpu")["t"].device.type == "cpu"
    with pytest.raises(ValueError, match="unknown device"):
        load(tmp_path / "x.npz", device="tpu")


def test_file_objects_round_trip_and_paths_stay_atomic(tmp_path):
    import io

    buf = io.BytesIO(b"prefix")
    buf.seek(0, io.SEEK_END)
    save({"w": np.arange(4.0)}, buf)  # written at the position, as torch.save
    assert buf.getvalue().startswith(b"prefix") and not buf.closed
    buf.seek(len(b"prefix"))
    np.testing.assert_array_equal(load(buf)["w"], np.arange(4.0))
    # a path is still written atomically: the previous checkpoint survives a failed save
    path = tmp_path / "ckpt.npz"
    save({"w": np.ones(2)}, path)
    with pytest.raises(TypeError, match="cannot be saved"):
        save({"bad": {1}}, path)
    np.testing.assert_array_equal(load(path)["w"], np.ones(2))
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]


def test_bad_file_objects_are_one_clear_line(tmp_path):
    import io

    with pytest.raises(TinyLMError, match="the BytesIO is not a readable tinylm checkpoint") as e:
        load(io.BytesIO(b"not a zip at all"))
    assert "\n" not in str(e.value)
    with pytest.raises(TinyLMError, match="the BytesIO is not a readable"):
        load(io.BytesIO())  # an empty buffer (forgot to seek(0) after saving)
    with open(tmp_path / "x.txt", "w") as f, pytest.raises(TypeError, match="text mode") as e:
        save({"w": tinylm.ones(1)}, f)
    assert "\n" not in str(e.value)
    with pytest.raises(TypeError, match="text mode"):
        load(io.StringIO("PK"))


def test_sharing_survives_a_device_move_and_a_forged_reference_is_refused(tmp_path):
    t = tinylm.ones(2)
    save({"a": t, "b": t.detach(), "c": t}, tmp_path / "x.npz")
    back = load(tmp_path / "x.npz", device="cpu")
    assert back["a"] is back["c"] and back["b"] is not back["a"]
    assert np.shares_memory(back["a"].numpy(), back["b"].numpy())
    with tinylm.no_grad():
        back["b"].add_(1.0)  # one array, one count of in-place changes
    assert back["a"]._version == back["b"]._version == 1
    # a manifest whose repeated tensor points at one not yet loaded
    import json

    manifest = {"format": "tinylm-checkpoint", "version": 2, "root": {"t": "same", "k": 0}}
    np.savez(
        tmp_path / "forged.npz", __manifest__=np.frombuffer(json.dumps(manifest).encode(), np.uint8)
    )
    with pytest.raises(TinyLMError, match="broken manifest"):
        load(tmp_path / "forged.npz")


def test_a_checkpoint_without_sharing_keeps_format_version_1(tmp_path):
    """Older tinylms (format version 1) still read what has no repeated tensor."""
    import io
    import json

    buf = io.BytesIO()
    save({"w": tinylm.ones(1), "p": nn.Parameter(tinylm.ones(1))}, buf)
    with np.load(io.BytesIO(buf.getvalue()), allow_pickle=False) as z:
        assert json.loads(z["__manifest__"].tobytes())["version"] == 1
