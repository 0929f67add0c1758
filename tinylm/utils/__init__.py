"""``tinylm.utils``: PyTorch's ``torch.utils`` as far as ported code reaches for it —
:mod:`tinylm.utils.data` (``Dataset``, ``TensorDataset``, ``DataLoader``, ``random_split``)."""

from tinylm.utils import data

__all__ = ["data"]
