"""PyTorch's nn.Transformer language-modelling tutorial (``tutorial_program.py``) run once
with torch and once with tinylm bound to that name, from the same weights and data: every
step's loss, gradient norm, learning rate and gradients, then the parameters, must agree
(float64, as ``test_one_source_two_frameworks.py`` compares)."""

from __future__ import annotations

import numpy as np
import pytest

import tinylm

torch = pytest.importorskip("torch")
from test_one_source_two_frameworks import compare, numpy_of, same_start  # noqa: E402
from tutorial_program import define  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.mark.filterwarnings("ignore::UserWarning")  # PyTorch's notes on its fast paths
def test_the_nn_transformer_tutorial_trains_alike() -> None:
    ntokens, bptt = 23, 7
    stream = np.random.default_rng(3).integers(0, ntokens, 4 * bptt * 3 + 5)
    models, histories = {}, {}
    for lib in (tinylm, torch):
        program = define(lib)
        lib.manual_seed(0)
        # the tutorial's model, smaller, and dropout 0: the two draw different random numbers
        model = program.TransformerModel(ntokens, 16, 2, 32, 2, dropout=0.0)
        models[lib.__name__] = (program, model)
    same_start(models["tinylm"][1], models["torch"][1], "float64")
    for name, (program, model) in models.items():
        lib = program.torch
        train_data = program.batchify(lib.tensor(stream), 4)
        histories[name] = program.train(model, train_data, bptt, ntokens, lr=5.0)
    assert len(histories["tinylm"]) == 3
    compare(histories["tinylm"], histories["torch"], "float64")
    for (n, a), (m, b) in zip(
        models["tinylm"][1].named_parameters(), models["torch"][1].named_parameters()
    ):
        assert n == m
        np.testing.assert_allclose(numpy_of(a), numpy_of(b), rtol=1e-9, atol=1e-11, err_msg=n)
