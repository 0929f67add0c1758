"""tinylm.nn.lora: LoRALinear against its equation and finite differences, merge/unmerge,
apply_lora on a GPT (only adapters train), saving the adapters alone, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tinylm.kernels import registry

import tinylm
from tinylm import TinyLMError, nn
from tinylm.models import GPT, GPTConfig
from tinylm.testing import gradcheck, module_function


@pytest.fixture(autouse=True, scope="module")
def reference_kernels():
    """Gradchecks run the model hundreds of times on tiny inputs: the reference kernels
    check the same derivations without the Numba kernels' per-call thread start-up."""
    previous = registry.get_backend()
    registry.set_backend("numpy")
    yield
    registry.set_backend(previous)


def lora_layer(n_in: int, n_out: int, r: int, alpha: float, seed: int, bias: bool = True):
    """A float64 LoRALinear whose B is random (at its zero init the gradient of A is 0,
    which a check could not tell from a missing one)."""
    tinylm.manual_seed(seed)
    layer = nn.LoRALinear(nn.Linear(n_in, n_out, bias=bias).double(), r=r, lora_alpha=alpha)
    with tinylm.no_grad():
        layer.lora_B.normal_(0.0, 0.5)
    return layer


def tiny_gpt(seed: int = 0) -> GPT:
    tinylm.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=8)).double()


@given(
    n_in=st.integers(1, 5),
    n_out=st.integers(1, 5),
    r=st.integers(1, 3),
    lead=st.lists(st.integers(1, 3), min_size=1, max_size=2),
    alpha=st.sampled_from([1.0, 4.0]),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_lora_linear_gradcheck_inputs_and_parameters(n_in, n_out, r, lead, alpha, bias, seed):
    layer = lora_layer(n_in, n_out, r, alpha, seed, bias)
    for p in layer.parameters():  # check W and b too, not only the adapters
        p.requires_grad = True
    fn, params = module_function(layer)
    x = tinylm.tensor(np.random.default_rng(seed).standard_normal((*lead, n_in)))
    x.requires_grad = True
    gradcheck(fn, [x, *params], seed=seed)


@given(seed=st.integers(0, 2**16), r=st.integers(1, 4))
def test_lora_linear_is_its_equation(seed, r):
    layer = lora_layer(6, 5, r, 3.0, seed)
    x = np.random.default_rng(seed).standard_normal((4, 6))
    w, b = layer.weight.numpy(), layer.bias.numpy()
    a, bb = layer.lora_A.detach().numpy(), layer.lora_B.detach().numpy()
    expected = x @ (w + (3.0 / r) * bb @ a).T + b  # y = x (W + (α/r) B A)ᵀ + b
    np.testing.assert_allclose(
        layer(tinylm.tensor(x)).detach().numpy(), expected, rtol=1e-12, atol=1e-12
    )
    assert layer.lora_A.shape == (r, 6) and layer.lora_B.shape == (5, r)


def test_wrapping_starts_from_the_base_function_and_freezes_it():
    tinylm.manual_seed(0)
    base = nn.Linear(7, 4)
    x = tinylm.randn(3, 7)
    before = base(x).detach().numpy()
    layer = nn.LoRALinear(base, r=2, lora_alpha=8)
    assert layer.weight is base.weight and layer.bias is base.bias  # shared, not copied
    assert not layer.weight.requires_grad and not layer.bias.requires_grad
    assert layer.lora_A.requires_grad and layer.lora_B.requires_grad
    assert (layer.lora_B.detach().numpy() == 0).all() and layer.scaling == 4.0
    np.testing.assert_array_equal(layer(x).detach().numpy(), before)  # B = 0: ΔW = 0 exactly
    bound = 1 / np.sqrt(7)
    assert (
        np.abs(layer.lora_A.detach().numpy()).max() <= bound
        and layer.lora_A.detach().numpy().std() > 0
    )


def test_merge_leaves_a_gpt_unchanged_and_unmerge_restores_the_weights():
    model = tiny_gpt()
    targets = ("c_attn", "c_proj", "c_fc")
    wrapped = nn.apply_lora(model, targets, r=2, lora_alpha=4)
    assert len(wrapped) == 2 * 4  # per block: attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj
    with tinylm.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("lora_B"):
                p.normal_(0.0, 0.3)
    frozen = {n: p.detach().numpy().copy() for n, p in model.named_parameters() if "lora" not in n}
    idx = np.random.default_rng(0).integers(0, 13, (3, 8))
    model.eval()
    with tinylm.no_grad():
        unmerged = model(idx)[0].numpy()
        nn.merge_lora(model)
        merged = model(idx)[0].numpy()
        nn.merge_lora(model)  # merging twice changes nothing
        again = model(idx)[0].numpy()
    assert np.abs(merged - unmerged).max() < 1e-12
    np.testing.assert_array_equal(again, merged)
    changed = [
        n
        for n, p in model.named_parameters()
        if "lora" not in n and not np.array_equal(p.detach().numpy(), frozen[n])
    ]
    assert sorted(changed) == sorted(f"{w}.weight" for w in wrapped)  # only the merged W's
    nn.unmerge_lora(model)
    for n, p in model.named_parameters():
        if "lora" not in n:
            np.testing.assert_allclose(p.detach().numpy(), frozen[n], rtol=0, atol=1e-15)
    with tinylm.no_grad():
        np.testing.assert_allclose(model(idx)[0].numpy(), unmerged, rtol=0, atol=1e-12)


def test_generation_with_the_kv_cache_sees_the_adapters():
    model = tiny_gpt(3)
    nn.apply_lora(model, ("c_attn", "c_fc"), r=2)
    with tinylm.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("lora_B"):
                p.normal_(0.0, 0.5)
    prompt = np.array([[1, 2, 3]])
    cached = model.generate(prompt, 10, greedy=True, use_cache=True).numpy()
    uncached = model.generate(prompt, 10, greedy=True, use_cache=False).numpy()
    nn.merge_lora(model)
    merged = model.generate(prompt, 10, greedy=True, use_cache=True).numpy()
    np.testing.assert_array_equal(cached, uncached)
    np.testing.assert_array_equal(cached, merged)


def test_cross_attention_projections_use_the_adapters():
    """A packed cross-attention splits c_attn's rows: a wrapped c_attn must still add ΔW."""
    tinylm.manual_seed(1)
    mha = nn.MultiHeadAttention(8, 2).double()
    q = tinylm.randn(2, 3, 8, dtype=tinylm.float64)
    mem = tinylm.randn(2, 5, 8, dtype=tinylm.float64)
    nn.apply_lora(mha, ["c_attn"], r=2)
    with tinylm.no_grad():
        mha.c_attn.lora_B.normal_(0.0, 0.5)
        unmerged = mha(q, mem).numpy()
        nn.merge_lora(mha)
        merged = mha(q, mem).numpy()
    np.testing.assert_allclose(unmerged, merged, rtol=0, atol=1e-12)


def test_with_a_frozen_backbone_only_adapters_and_head_learn():
    model = tiny_gpt(4)
    model.requires_grad_(False)
    nn.apply_lora(model, ("c_attn",), r=2, lora_alpha=4)
    head = nn.Linear(8, 3).double()
    trainable = [p for p in [*model.parameters(), *head.parameters()] if p.requires_grad]
    assert model.num_parameters(trainable_only=True) == 2 * 2 * (8 + 24)  # r (in + out) each
    opt = tinylm.optim.AdamW(list(model.parameters()) + list(head.parameters()), lr=1e-2)
    before = {id(p): p.detach().numpy().copy() for p in [*model.parameters(), *head.parameters()]}
    idx = np.random.default_rng(0).integers(0, 13, (4, 8))
    for _ in range(2):  # two steps: after the first, B ≠ 0, so A gets a gradient too
        logits = head(model.hidden_states(idx).mean(dim=1))
        loss = tinylm.nn.functional.cross_entropy(logits, tinylm.tensor([0, 1, 2, 0]))
        opt.zero_grad()
        loss.backward()
        for name, p in model.named_parameters():
            assert (p.grad is not None) == ("lora" in name), name
        opt.step()
    for p in [*model.parameters(), *head.parameters()]:
        moved = not np.array_equal(p.detach().numpy(), before[id(p)])
        assert moved == any(p is q for q in trainable)


def test_adapters_save_and_load_alone(tmp_path):
    model = tiny_gpt(5)
    nn.apply_lora(model, ("c_attn", "c_proj"), r=3)
    with tinylm.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("h.") and "lora" in name:
                p.normal_()
    adapters = nn.lora_state_dict(model)
    assert list(adapters) == [
        f"h.{i}.{m}.{ab}"
        for i in range(2)
        for m in ("attn.c_attn", "attn.c_proj", "mlp.c_proj")
        for ab in ("lora_A", "lora_B")
    ]
    tinylm.save(adapters, tmp_path / "adapters.npz")
    fresh = tiny_gpt(5)  # the same backbone, adapted the same way, adapters at their init
    nn.apply_lora(fresh, ("c_attn", "c_proj"), r=3)
    idx = np.random.default_rng(1).integers(0, 13, (2, 8))
    with tinylm.no_grad():
        assert not np.allclose(fresh(idx)[0].numpy(), model(idx)[0].numpy())
        nn.load_lora_state_dict(fresh, tinylm.load(tmp_path / "adapters.npz"))
        np.testing.assert_array_equal(fresh(idx)[0].numpy(), model(idx)[0].numpy())
    with pytest.raises(TinyLMError, match="missing"):
        nn.load_lora_state_dict(fresh, dict(list(adapters.items())[:-1]))
    with pytest.raises(TinyLMError, match="unexpected"):
        nn.load_lora_state_dict(fresh, {**adapters, "h.0.attn.c_attn.weight": np.zeros((24, 8))})
    nn.merge_lora(fresh)
    with pytest.raises(TinyLMError, match="unmerge"):
        nn.load_lora_state_dict(fresh, adapters)
    with pytest.raises(TinyLMError, match="no LoRA layers"):
        nn.load_lora_state_dict(tiny_gpt(), adapters)


def test_apply_lora_errors_are_one_clear_line():
    model = tiny_gpt()
    with pytest.raises(TinyLMError, match="no module of GPT matches"):
        nn.apply_lora(model, ("q_proj",))
    with pytest.raises(TinyLMError, match="'h.0.attn' .* not an nn.Linear"):
        nn.apply_lora(model, r"h\.0\.attn")
    with pytest.raises(TinyLMError, match="tied"):
        nn.apply_lora(model, ("lm_head",))
    nn.apply_lora(model, r"h\.\d+\.attn\.c_attn")  # a regular expression for the whole name
    with pytest.raises(TinyLMError, match="LoRALinear, not an nn.Linear"):
        nn.apply_lora(model, ("c_attn",))  # adapters are not stacked
    with pytest.raises(TinyLMError, match="positive integer"):
        nn.LoRALinear(nn.Linear(2, 2), r=0)
    with pytest.raises(TinyLMError, match="can only wrap an nn.Linear"):
        nn.LoRALinear(nn.LayerNorm(2))


def test_a_merged_layer_refuses_to_train_silently():
    layer = nn.LoRALinear(nn.Linear(3, 2), r=1).merge()
    x = tinylm.randn(2, 3)
    with pytest.raises(TinyLMError, match="unmerge"):
        layer(x)
    with tinylm.no_grad():
        layer(x)  # inference is what merging is for
    layer.unmerge()
    layer(x).sum().backward()
    assert layer.lora_B.grad is not None


def test_lora_dropout_acts_on_the_update_only_in_training():
    tinylm.manual_seed(0)
    layer = nn.LoRALinear(nn.Linear(50, 4), r=2, lora_dropout=0.5)
    with tinylm.no_grad():
        layer.lora_B.normal_()
    x = tinylm.randn(8, 50)
    base = nn.functional.linear(x, layer.weight, layer.bias).numpy()
    layer.eval()
    eval_out = layer(x).detach().numpy()
    layer.train()
    train_out = layer(x).detach().numpy()
    assert not np.allclose(train_out, eval_out)  # some inputs of the update were dropped
    assert not np.allclose(eval_out, base)
    assert "r=2" in repr(layer) and "merged=False" in repr(layer)
