"""``tinylm.utils``: PyTorch's ``torch.utils`` as far as ported code reaches for it —
:mod:`tinylm.utils.data` (``Dataset``, ``TensorDataset``, ``DataLoader``, ``random_split``) and
:mod:`tinylm.utils.checkpoint` (``checkpoint``, ``checkpoint_sequential``)."""

from tinylm.utils import checkpoint, data

__all__ = ["checkpoint", "data"]
