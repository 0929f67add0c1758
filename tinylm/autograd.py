"""Reverse-mode automatic differentiation.

Every differentiable operation is a :class:`Function` with two static methods that work
on raw arrays (numpy or cupy), never on Tensors::

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):            # y = e^x
            y = xp.exp(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):        # dL/dx = dL/dy * e^x
            (y,) = ctx.saved_arrays
            return grad * y

``Function.apply`` runs ``forward`` and, when gradients are needed, records a
:class:`Node` that remembers the inputs. ``Tensor.backward`` then walks the recorded
graph from the output back to the leaves (the chain rule, applied node by node).

The engine, not each op, takes care of the bookkeeping that is the same for every op:

* **un-broadcasting** — if ``x`` of shape (3, 1) was broadcast to (2, 3, 4) by an op, the
  gradient that arrives has shape (2, 3, 4); the engine sums it back to (3, 1);
* **accumulation** — a tensor used twice receives the sum of both gradients (added into
  an array only the engine holds where there is one, and a leaf keeps such an array as its
  ``.grad`` without a copy: see ``Function.fresh_grads``);
* **freeing the graph** after backward (unless ``retain_graph=True``);
* **checking** that no tensor saved for backward was modified in place since;
* **NumPy's floating-point warnings**: PyTorch gives ``log(0) = -inf``, ``1/0``, ``0/0 = nan``
  in silence, where NumPy warns ("divide by zero encountered in log"). ``backward()`` runs
  every op's backward under one ``np.errstate(all="ignore")`` (gradient hooks under the
  caller's own settings); an op whose *forward* can meet such values says
  ``silences_fp_warnings = True`` and ``Function.apply`` runs its forward under one too.
  NumPy's global error state is never changed.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from tinylm.anomaly_mode import (
    detect_anomaly,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    nan_check_on,
    set_detect_anomaly,
)
from tinylm.devices import array_module
from tinylm.errors import TinyLMError

if TYPE_CHECKING:  # for type hints only: tinylm.tensor imports this module
    from tinylm.tensor import Tensor

__all__ = [
    "Context",
    "Function",
    "Node",
    "RemovableHandle",
    "TensorBase",
    "TinyLMError",
    "backward",
    "enable_grad",
    "grad",
    "inference_mode",
    "detect_anomaly",
    "is_anomaly_check_nan_enabled",
    "is_anomaly_enabled",
    "set_detect_anomaly",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "modes",
    "no_grad",
    "set_grad_enabled",
    "unbroadcast",
]


# ---------------------------------------------------------------------------------------
# Grad mode: is the engine recording operations right now?
# ---------------------------------------------------------------------------------------


class _GradMode(threading.local):
    """Each thread's grad mode; on by default (the class attribute, until a thread sets its
    own: a plain attribute read, where ``getattr(local, name, default)`` costs an exception
    when the name is missing)."""

    grad_enabled = True
    inference = False  # inside inference_mode(): the tensors made are inference tensors


_state = _GradMode()
#: this thread's modes, read where a function call would cost too much (``Tensor._wrap``):
#: ``modes.grad_enabled``, ``modes.inference``; change them only through the context managers
modes = _state


def is_grad_enabled() -> bool:
    """True when operations are being recorded for backward."""
    return _state.grad_enabled


def is_inference_mode_enabled() -> bool:
    """True inside ``inference_mode()`` (not inside ``inference_mode(False)``), as PyTorch's;
    the tensors made there answer ``is_inference()`` with True."""
    return _state.inference


F = TypeVar("F", bound=Callable[..., Any])


class set_grad_enabled(contextlib.ContextDecorator):
    """Turn recording on or off, as PyTorch's: called alone (``tinylm.set_grad_enabled(False)``)
    it switches at once and for good; as ``with set_grad_enabled(mode):`` or a decorator
    ``@set_grad_enabled(mode)`` it switches for the block or the call and then restores the
    mode from before. (``no_grad()`` and ``enable_grad()`` switch only in their ``with``.)"""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._previous: list[bool] = []
        self._before_call: bool | None = None  # the mode before a switching call, if any
        if type(self) is set_grad_enabled:
            self._before_call = is_grad_enabled()
            _state.grad_enabled = self.mode

    def __call__(self, func: Any) -> Any:
        if self._before_call is not None:  # a decorator: undo the switch made when called
            _state.grad_enabled, self._before_call = self._before_call, None
        if inspect.isgeneratorfunction(func):
            return _generator_in_mode(func, self.mode, getattr(self, "inference", None))
        return super().__call__(func)

    def __enter__(self) -> set_grad_enabled:
        before, self._before_call = self._before_call, None
        self._previous.append(is_grad_enabled() if before is None else before)
        _state.grad_enabled = self.mode
        return self

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled = self._previous.pop()


def _generator_in_mode(
    func: Callable[..., Any], mode: bool, inference: bool | None = None
) -> Callable[..., Any]:
    """A generator function decorated with a grad mode: its body runs in ``mode`` (and, for
    ``inference_mode``, with ``inference`` as the inference mode) each time it resumes, and
    the caller's modes are back between items (a ``with`` around the call would end before
    the body first runs)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        gen = func(*args, **kwargs)
        sent = None
        while True:
            previous = _state.grad_enabled, _state.inference
            _state.grad_enabled = mode
            if inference is not None:
                _state.inference = inference
            try:
                item = gen.send(sent)
            except StopIteration as stop:
                return stop.value
            finally:
                _state.grad_enabled, _state.inference = previous
            sent = yield item

    return wrapper


class no_grad(set_grad_enabled):
    """Disable recording: ``with tinylm.no_grad(): ...`` or ``@tinylm.no_grad()``.

    Used for evaluation and for parameter updates, which must not become part of the graph.
    Also works as a bare decorator: ``@tinylm.no_grad``.
    """

    def __init__(self, func: Callable[..., Any] | None = None) -> None:
        super().__init__(False)
        if func is not None and inspect.isgeneratorfunction(func):
            func = _generator_in_mode(func, False, getattr(self, "inference", None))
        self._func = func
        if func is not None:
            functools.update_wrapper(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._func is not None:  # used as a bare decorator: @no_grad (or @inference_mode)
            with type(self)():
                return self._func(*args, **kwargs)
        return super().__call__(*args, **kwargs)  # used as @no_grad()

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        # Make `@no_grad` work on methods too.
        if obj is None or self._func is None:
            return self
        return functools.partial(self.__call__, obj)


class inference_mode(no_grad):
    """``torch.inference_mode``: in tinylm :class:`no_grad` (nothing is recorded) whose
    tensors answer ``is_inference()`` with True; PyTorch's limits on such tensors (no
    in-place change outside inference mode, no use in a recorded graph) are not enforced.
    ``inference_mode(False)`` turns recording on, as PyTorch's, even inside ``no_grad``.
    Works as ``with``, ``@inference_mode()`` and ``@inference_mode``, on generators too."""

    def __init__(self, mode: Any = True) -> None:
        bare = callable(mode)  # @inference_mode without parentheses: mode is the function
        self.inference = True if bare else bool(mode)  # read by no_grad's __init__
        super().__init__(mode if bare else None)
        self.mode = not self.inference  # recording: off in inference mode, on outside it
        self._previous_inference: list[bool] = []

    def __enter__(self) -> set_grad_enabled:
        self._previous_inference.append(_state.inference)
        _state.inference = self.inference
        return super().__enter__()

    def __exit__(self, *exc: object) -> None:
        _state.inference = self._previous_inference.pop()
        super().__exit__(*exc)


class enable_grad(set_grad_enabled):
    """Re-enable recording inside a ``no_grad`` region."""

    def __init__(self) -> None:
        super().__init__(True)


# ---------------------------------------------------------------------------------------
# Functions, contexts and graph nodes
# ---------------------------------------------------------------------------------------


class TensorBase:
    """The base class of :class:`tinylm.Tensor`: what the engine knows of a tensor.

    The engine reads a tensor's array ``data``, ``requires_grad``, ``_node`` (the op that
    made it), ``_version`` (its count of in-place changes) and makes new tensors with
    ``_wrap(array, requires_grad)``; ``tinylm/tensor.py`` defines them all. The base class
    lives here so that this module never imports ``tinylm.tensor`` (which imports this one).
    """

    __slots__ = ()
    _hooks: dict[int, Any] | None = None  # gradient hooks (Tensor.register_hook); most have none
    #: hooks called after a leaf's .grad is accumulated (register_post_accumulate_grad_hook)
    _post_accumulate_hooks: dict[int, Any] | None = None
    _inference = False  # made inside inference_mode() (Tensor.is_inference)

    @classmethod
    def _wrap(cls, array: Any, requires_grad: bool = False) -> Any:
        """A new tensor around ``array`` (no copy); tinylm.Tensor implements it."""
        raise NotImplementedError


class Context:
    """What ``forward`` leaves for ``backward``: the ``ctx`` argument of both.

    **Arrays backward reads** (inputs, the output, intermediates): pass them to
    ``ctx.save_for_backward(a, b, ...)`` in ``forward`` and read them back in ``backward`` as
    ``a, b = ctx.saved_arrays`` (a tuple, in the order saved). Saving them
    there, not as attributes, lets the engine notice an in-place change to an input or the
    output between forward and backward and raise an error instead of using changed values.

    **Anything else** — shapes, an axis, a flag, a mask or an index that gets no gradient,
    a kernel's workspace — is a plain attribute: ``ctx.axis = axis``, read back as
    ``ctx.axis``. Store arrays (``x.data``), never Tensors: a Tensor on ctx would keep its
    graph alive.

    **needs_input_grad**: one bool per Tensor input, True where a gradient is wanted. Read
    it in ``backward`` to skip work and return ``None`` for the others (also usable in
    ``forward``, e.g. to save nothing when no input needs a gradient). When no input needs
    one, nothing calls backward and the engine drops what forward saved.

    tinylm's Functions see raw arrays (numpy, or cupy on a GPU), not Tensors as PyTorch's
    do: ``saved_arrays`` is what PyTorch calls ``saved_tensors``. A complete custom op::

        import numpy as np
        import tinylm
        from tinylm import Function
        from tinylm.testing import gradcheck

        class Softplus(Function):
            \"\"\"y = log(1 + e^(βx)) / β;  dy/dx = σ(βx) = 1 / (1 + e^(−βx)).\"\"\"

            @staticmethod
            def forward(ctx, x, *, beta=1.0):     # arrays in, one array out
                ctx.save_for_backward(x)          # an array backward reads
                ctx.beta = beta                   # anything else: an attribute
                return np.logaddexp(0, beta * x) / beta

            @staticmethod
            def backward(ctx, g):                 # g = dL/dy, y's shape
                (x,) = ctx.saved_arrays
                if not ctx.needs_input_grad[0]:
                    return None
                return g / (1 + np.exp(-ctx.beta * x))   # dL/dx = g · σ(βx)

        x = tinylm.randn(5, dtype=tinylm.float64, requires_grad=True)
        y = Softplus.apply(x, beta=2.0)           # Tensors positional, parameters by keyword
        y.sum().backward()                        # x.grad = σ(2x)
        assert gradcheck(lambda t: Softplus.apply(t, beta=2.0), [x])

    ``backward`` returns one gradient per Tensor input (a tuple when there are several), of
    the input's shape or of the broadcast shape the engine sums back; ``g`` may arrive in
    any layout (a read-only broadcast view, say), so never write into it — unless
    **grad_is_scratch** is True: the engine sets it before each ``backward`` when nothing
    else holds ``g`` (the new output of an earlier op's backward, not the user's array, a
    hook's, a retained ``.grad`` or a broadcast view), so an element-wise backward may write
    its result into ``g`` and return it instead of a new array (GELU does).
    """

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self.saved_arrays: tuple[Any, ...] = ()
        self.grad_is_scratch = False

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays that ``backward`` reads (inputs, outputs or intermediates); backward
        gets them back, in this order, as ``ctx.saved_arrays``."""
        self.saved_arrays = arrays

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        raise AttributeError(
            "Context has no saved_tensors: tinylm's Functions work on arrays, and backward "
            "reads what forward saved as ctx.saved_arrays"
        )


class RemovableHandle:
    """What ``Tensor.register_hook`` returns: ``remove()`` takes the hook away again (also
    as a context manager: removed at the end of the ``with``), as PyTorch's handle."""

    _ids = itertools.count()

    def __init__(self, hooks: dict[int, Any]) -> None:
        self.hooks = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        self.hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _refuse_nan(name: str, input_grads: tuple[Any, ...]) -> None:
    """PyTorch's anomaly error for the first gradient of ``input_grads`` holding a NaN."""
    for k, ig in enumerate(input_grads):
        if ig is not None and ig.dtype.kind == "f" and bool(array_module(ig).isnan(ig).any()):
            raise RuntimeError(
                f"Function '{name}Backward0' returned nan values in its {k}th output."
            )


def _run_hooks(tensor: Tensor, g: Any) -> Any:
    """``g`` after ``tensor``'s gradient hooks (``Tensor.register_hook``), in order: a hook's
    returned tensor replaces it, None keeps it."""
    for hook in list(tensor._hooks.values()):  # a hook may remove itself
        out = hook(type(tensor)._wrap(g))
        if out is None:
            continue
        if not isinstance(out, TensorBase):
            raise TypeError(
                f"gradient hook {getattr(hook, '__name__', hook)!r} returned "
                f"{type(out).__name__}; return a Tensor or None"
            )
        if out.data.shape != g.shape or out.data.dtype != g.dtype:
            raise RuntimeError(
                f"gradient hook {getattr(hook, '__name__', hook)!r} changed the gradient from "
                f"{g.shape} {g.dtype} to {out.data.shape} {out.data.dtype}; return one of the "
                "tensor's shape and dtype"
            )
        g = out.data
    return g


def _run_post_accumulate_hooks(tensor: Tensor) -> None:
    """Call ``hook(tensor)`` for each of a leaf's post-accumulate-grad hooks, in order, once
    its ``.grad`` holds this backward's gradient; a hook returns None (it may read or change
    ``tensor.grad``, e.g. to step an optimizer for that parameter alone)."""
    for hook in list(tensor._post_accumulate_hooks.values()):  # a hook may remove itself
        out = hook(tensor)
        if out is not None:
            raise TypeError(
                f"post-accumulate-grad hook {getattr(hook, '__name__', hook)!r} returned "
                f"{type(out).__name__}; it must return None"
            )


class Node:
    """One recorded application of a Function: the edge list of the graph.

    Attributes:
        function: the Function subclass that was applied.
        ctx: its Context (``None`` once the graph has been freed).
        inputs: the input Tensors (``()`` once freed).
        saved_versions: (version counter, version, shape) of each tensor whose memory
            backward reads: its counter, not the tensor, so that an output saved by its own
            op (softmax's y) is not a reference cycle output → node → output, which only
            the garbage collector could free (a forward without backward kept its arrays).
    """

    __slots__ = ("function", "ctx", "inputs", "saved_versions", "freed")

    def __init__(self, function: type[Function], ctx: Context, inputs: tuple[Tensor, ...]):
        self.function = function
        self.ctx: Context | None = ctx
        self.inputs: tuple[Tensor, ...] = inputs
        self.saved_versions: list[tuple[Any, int, tuple[int, ...]]] = []
        self.freed = False

    @property
    def name(self) -> str:
        return self.function.__name__

    def __repr__(self) -> str:
        # PyTorch's form, MulBackward0 (it numbers the overloads of an op; tinylm has one each)
        return f"<{self.name}Backward0{' (freed)' if self.freed else ''}>"

    def free(self) -> None:
        self.ctx = None
        self.inputs = ()
        self.saved_versions = []
        self.freed = True


def _describe(tensors: tuple[Any, ...]) -> str:
    parts = []
    for t in tensors:
        parts.append(f"{tuple(t.shape)} {t.dtype}" if hasattr(t, "shape") else repr(t))
    return ", ".join(parts)


def _describe_params(params: dict[str, Any]) -> str:
    # An array parameter (a mask, an index) is shown by shape and dtype, not by its values,
    # which could fill the screen.
    return ", ".join(
        f"{k}={_describe((v,)) if hasattr(v, 'shape') else repr(v)}" for k, v in params.items()
    )


def _with_inputs(message: str, inputs: tuple[Any, ...], params: dict[str, Any]) -> str:
    """An op's error message, completed with the shapes and dtypes of its inputs.

    Messages that already name every input's shape and dtype are left as they are.
    """
    if all(str(tuple(t.shape)) in message and str(t.dtype) in message for t in inputs):
        return message
    context = f"inputs: {_describe(inputs)}"
    if params:
        context += f"; {_describe_params(params)}"
    return f"{message} ({context})"


class Function:
    """Base class of every differentiable operation.

    Subclasses implement ``forward(ctx, *arrays, **params)`` and ``backward(ctx, grad)``,
    both on raw arrays. ``backward`` returns one gradient per array input (a single array
    when there is one input, else a tuple; ``None`` for inputs that need no gradient).
    Gradients may have the *broadcast* shape; the engine reduces them.

    Set ``is_view = True`` on ops whose output may share memory with their first input
    (reshape, transpose, …) so that in-place changes are seen through both.
    """

    is_view = False
    #: True when ``backward`` returns only new arrays that nothing else holds (a kernel's
    #: output, a matrix product), one per input: the engine then keeps such an array as a
    #: leaf's ``.grad`` or adds the next gradient into it, where it would otherwise copy.
    #: Leave it False for a backward that may hand back ``g`` itself, a view of it, or one
    #: array for two inputs (``Add``: ``g`` for both).
    fresh_grads = False
    #: True when ``forward`` can produce inf or nan from its inputs (ln 0, 1/0, ∞ − ∞, an
    #: overflow, a float16 cast out of range): ``apply`` then runs it under
    #: ``np.errstate(all="ignore")``, silent as PyTorch is, where NumPy would warn. Off by
    #: default: the ``with`` costs ~0.7 µs, a third of a small op's apply (the views, the
    #: kernel-backed ops and indexing never warn). Every backward is silent already.
    silences_fp_warnings = False

    @staticmethod
    def forward(ctx: Context, *arrays: Any, **params: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def op_name(cls) -> str:
        """The name in error messages: the class name in lower case, without the leading
        underscore of the private Functions of ``nn.functional`` (``_Linear`` → linear)."""
        return cls.__name__.lstrip("_").lower()

    @classmethod
    def apply(cls, *inputs: Tensor, **params: Any) -> Tensor:
        """Run ``forward`` on the inputs' arrays and record the op for backward."""
        # One pass over the inputs: type check, arrays, which need a gradient, and whether
        # any array is not NumPy's (numpy arrays all live on the CPU; only other arrays need
        # their devices compared).
        arrays = []
        needs = []
        all_numpy = True
        for i, t in enumerate(inputs):
            if not isinstance(t, TensorBase):
                raise TypeError(f"{cls.op_name()}: input {i} must be a Tensor, got {type(t)}")
            a = t.data
            arrays.append(a)
            needs.append(t.requires_grad)
            if type(a) is not np.ndarray:
                all_numpy = False
        if not all_numpy and len({t.device for t in inputs}) > 1:
            raise TinyLMError(
                f"{cls.op_name()}: inputs live on different devices "
                f"({', '.join(str(t.device) for t in inputs)}); move them with .to(device)"
            )
        record = _state.grad_enabled and any(needs)
        ctx = Context(tuple(needs) if record else (False,) * len(inputs))
        try:
            if cls.silences_fp_warnings:
                with np.errstate(all="ignore"):  # inf and nan in silence, as PyTorch's
                    out = cls.forward(ctx, *arrays, **params)
            else:
                out = cls.forward(ctx, *arrays, **params)
        except TinyLMError as e:
            # The op's own check: add the inputs' shapes and dtypes if it did not name them,
            # keeping the error's class (a subclass such as linalg.LinAlgError stays one).
            e.args = (_with_inputs(str(e), inputs, params),)
            raise e from None
        except (ValueError, TypeError, IndexError) as e:
            # numpy's error from deep inside forward: say which op, on which inputs.
            raise TinyLMError(_with_inputs(f"{cls.op_name()}: {e}", inputs, params)) from e

        result = type(inputs[0])._wrap(out, requires_grad=record)
        if cls.is_view and inputs and _may_share(out, arrays[0]):
            result._version_counter = inputs[0]._version_counter
            result._inference = inputs[0]._inference  # a view is of its base's kind
        if record:
            node = Node(cls, ctx, inputs)
            # Remember the version of every tensor whose memory backward will read, so an
            # in-place change before backward is an error instead of a wrong gradient.
            saved = [a for a in ctx.saved_arrays if hasattr(a, "shape")]
            if saved:
                result_data = result.data  # out, or the ndarray _wrap made of a numpy scalar
                owners = {id(_owner(a)) for a in saved}
                for t, data in (*zip(inputs, arrays), (result, result_data)):
                    owner = _owner(data)
                    if owner is None:  # memory NumPy does not own alone: compare bounds
                        shares = any(_may_share(a, data) for a in saved)
                    else:
                        shares = id(owner) in owners
                    if shares:
                        counter = t._version_counter
                        node.saved_versions.append((counter, counter.value, t.shape))
            result._node = node
        else:
            ctx.saved_arrays = ()  # nothing will call backward: free what forward saved
        return result


def _owner(a: Any) -> Any:
    """The ndarray that owns ``a``'s memory (``a`` itself, or the end of its chain of
    ``.base``), or None where that is not known: not a NumPy array, or memory from another
    object (``np.frombuffer``, a memory map), which other arrays may view too. Two arrays
    with different owners cannot overlap, which one identity test tells (bounds checks by
    ``np.may_share_memory`` took ~0.7 µs a pair, ~7 µs an op that saves four arrays)."""
    if type(a) is not np.ndarray:
        return None
    while True:
        base = a.base
        if base is None:
            return a
        if type(base) is not np.ndarray:
            return None
        a = base


def _may_share(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if type(a) is np.ndarray and type(b) is np.ndarray:  # the common case, without lookups
        return bool(np.may_share_memory(a, b))
    xp = array_module(a)
    if array_module(b) is not xp or not hasattr(b, "shape"):
        return False
    return bool(xp.may_share_memory(a, b))


# ---------------------------------------------------------------------------------------
# The backward pass
# ---------------------------------------------------------------------------------------


def unbroadcast(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` down to ``shape``, undoing numpy broadcasting.

    Broadcasting (a) prepends axes and (b) stretches axes of size 1. The gradient of a
    broadcast is a sum over the copies, so we sum over (a) the leading axes and (b) the
    stretched axes (keeping them, with size 1).
    """
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise TinyLMError(f"cannot unbroadcast gradient of shape {grad.shape} to {shape}")
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def _add_gradients(a: tuple[Any, bool], b: tuple[Any, bool]) -> tuple[Any, bool]:
    """The sum of two (gradient, owned) contributions to one tensor, same shape and dtype:
    added into one that only the engine holds (no new array), else a new sum."""
    for (into, into_owned), (other, _) in ((a, b), (b, a)):
        if into_owned and type(into) is np.ndarray and into.flags.writeable:
            np.add(into, other, out=into)
            return into, True
    return a[0] + b[0], True


def _topological_order(root: Tensor) -> list[Tensor]:
    """Tensors of the graph ending at ``root``, each after all tensors it depends on.

    An iterative depth-first search (an explicit stack instead of recursion) so a chain
    of 100 000 ops does not hit Python's recursion limit.
    """
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        tensor, children_done = stack.pop()
        if children_done:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        node = tensor._node
        if node is not None:
            if node.freed:
                raise RuntimeError(
                    f"backward: the graph through {node.name} (output {tensor.shape} "
                    f"{tensor.dtype}) was already freed by an earlier backward(); call "
                    "backward(retain_graph=True) the first time if you need to go through it "
                    "twice"
                )
            for inp in node.inputs:
                if inp.requires_grad and id(inp) not in visited:
                    stack.append((inp, False))
    return order


def _backward_from(
    root: Tensor,
    gradient: Any = None,
    retain_graph: bool = False,
    capture: dict[int, Tensor] | None = None,
) -> dict[int, Any]:
    """The engine: accumulate d(root)/d(leaf), weighted by ``gradient``, into every leaf's
    ``.grad`` (``backward``), or, given ``capture``, only compute the gradients of those
    tensors and change no ``.grad`` (``grad``).

    Args:
        root: the tensor to differentiate, usually a scalar loss.
        gradient: dL/d(root), same shape as ``root``; may be omitted for scalars (then 1).
        retain_graph: keep the graph so that backward can run through it again.
        capture: {id(t): t} of the tensors whose gradients ``grad`` returns; only the part
            of the graph between root and them is walked.

    Returns:
        {id(t): gradient array} of the captured tensors that root depends on.
    """
    if not root.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no graph; create the "
            "inputs with requires_grad=True (and not inside no_grad())"
        )
    xp = root._xp
    if gradient is None:
        if root.data.size != 1:  # the array's element count
            raise RuntimeError(
                f"backward: gradient can be implied only for a single-element output, but the "
                f"output has shape {root.shape}; pass gradient= of that shape, or reduce it "
                "to a scalar first (e.g. loss.sum())"
            )
        grad = xp.ones(root.shape, dtype=root.dtype)
    else:
        grad = gradient.data if isinstance(gradient, TensorBase) else xp.asarray(gradient)
        if grad.shape != root.shape:
            raise TinyLMError(
                f"backward: gradient has shape {grad.shape} but the output has shape {root.shape}"
            )
        grad = grad.astype(root.dtype, copy=False)

    order = _topological_order(root)
    if capture is not None:
        order = _leading_to(order, capture)
    # One errstate for the whole walk (~0.7 µs), not one per op: the backward rules meet
    # 1/0 (log at 0, sqrt at 0), 0·inf and overflows, which PyTorch gives in silence. Hooks,
    # the user's code, run under the user's own settings (``_run_hooks``).
    user_fp_settings = np.geterr()
    with np.errstate(all="ignore"):
        return _walk_backward(
            root, order, grad, gradient is None, retain_graph, capture, user_fp_settings
        )


def _walk_backward(
    root: Tensor,
    order: list[Tensor],
    grad: Any,
    owned_root: bool,
    retain_graph: bool,
    capture: dict[int, Tensor] | None,
    user_fp_settings: dict[str, str],
) -> dict[int, Any]:
    """``_backward_from``'s walk from ``root`` (gradient ``grad``) through ``order``, outputs
    first: each node's backward, its gradients summed per input and handed down."""
    captured: dict[int, Any] = {}
    # tensor id -> (gradient, owned): owned when only the engine holds that array (a new sum,
    # a conversion, the output of a fresh_grads backward), so it may be kept or added into
    grads: dict[int, tuple[Any, bool]] = {id(root): (grad, owned_root)}
    for tensor in reversed(order):
        g, owned = grads.pop(id(tensor), (None, False))
        if g is None:
            continue
        node = tensor._node
        if tensor._hooks:
            # a hook may keep the array it saw (to plot it, say): nothing adds into it now
            with np.errstate(**user_fp_settings):
                g, owned = _run_hooks(tensor, g), False
        if capture is not None:
            if id(tensor) in capture:  # complete: every use of tensor came before it
                captured[id(tensor)] = g if owned else g.copy()
                owned = False  # returned to the caller: never added into below
            if node is None:
                continue
        elif node is None:  # a leaf: g is used nowhere after this
            tensor._accumulate_grad(g, owned=owned)
            if tensor._post_accumulate_hooks:
                with np.errstate(**user_fp_settings):
                    _run_post_accumulate_hooks(tensor)
            continue
        elif tensor._retains_grad:  # backward still reads g below: .grad gets a copy
            tensor._accumulate_grad(g)
        for counter, version, saved_shape in node.saved_versions:
            if counter.value != version:
                raise RuntimeError(
                    f"backward: a tensor of shape {saved_shape} that {node.name} saved for "
                    f"backward was modified in place after it was used (version {version} -> "
                    f"{counter.value}); compute a new tensor instead of changing it in place"
                )
        node.ctx.grad_is_scratch = owned  # only the engine holds g: backward may reuse it
        input_grads = node.function.backward(node.ctx, g)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        if nan_check_on():  # detect_anomaly: the first op whose backward made a NaN
            _refuse_nan(node.name, input_grads)
        if len(input_grads) != len(node.inputs):
            raise RuntimeError(
                f"{node.name}.backward returned {len(input_grads)} gradients "
                f"for {len(node.inputs)} inputs"
            )
        fresh = node.function.fresh_grads
        for k, (inp, ig) in enumerate(zip(node.inputs, input_grads)):
            if ig is None or not inp.requires_grad:
                continue
            owned = fresh
            shape, dtype = inp.shape, inp.dtype
            if ig.shape != shape:
                if ig.ndim >= len(shape):  # fewer dims cannot be a broadcast: reported below
                    ig, owned = unbroadcast(ig, shape), True  # a sum is a new array
                if ig.shape != shape:
                    raise RuntimeError(
                        f"{node.name}.backward produced a gradient of shape {ig.shape} "
                        f"for input {k} of shape {shape} {dtype}"
                    )
            if ig.dtype != dtype:
                ig, owned = ig.astype(dtype), True
            key = id(inp)
            if key in grads:
                ig, owned = _add_gradients(grads[key], (ig, owned))
            grads[key] = (ig, owned)
        if not retain_graph:
            node.free()
    return captured


def _leading_to(order: list[Tensor], capture: dict[int, Tensor]) -> list[Tensor]:
    """The tensors of ``order`` (inputs before outputs) from which a tensor of ``capture``
    can be reached: the part of the graph that ``grad`` needs to walk."""
    needed = set(capture)
    kept = []
    for t in order:
        node = t._node
        if id(t) in needed or (node is not None and any(id(i) in needed for i in node.inputs)):
            needed.add(id(t))
            kept.append(t)
    return kept


# ---------------------------------------------------------------------------------------
# torch.autograd.backward and torch.autograd.grad: several outputs in one pass
# ---------------------------------------------------------------------------------------


class _JointRoot(Function):
    """A 0-d stand-in output whose inputs are the tensors of one ``backward`` call: its
    backward hands each tensor its own gradient, so the engine walks their graphs in one
    pass (shared parts once, gradients of a tensor given twice summed, as PyTorch)."""

    @staticmethod
    def forward(ctx: Context, *arrays: Any, grads: tuple[Any, ...]) -> Any:
        ctx.grads = grads
        return array_module(arrays[0]).zeros((), dtype=arrays[0].dtype)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
        return ctx.grads


def backward(
    tensors: Any,
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    grad_variables: Any = None,
    inputs: Any = None,
) -> None:
    """Accumulate into every leaf's ``.grad`` the gradient of ``tensors``, weighted by
    ``grad_tensors``, as ``torch.autograd.backward``: ``backward([loss_a, loss_b])`` or
    ``backward([y1, y2], [g1, g2])`` is one backward pass through all their graphs.

    Args:
        tensors: a Tensor or a sequence of Tensors that require grad (shapes ``S_i``).
        grad_tensors: dL/d(tensors[i]), one per tensor (a Tensor or array of shape ``S_i``),
            or None for a tensor of one element (then 1); a single one for a single tensor.
        retain_graph: keep the graphs for another backward (default: ``create_graph``).
        create_graph: refused: tinylm's backward rules work on arrays, so gradients carry
            no graph (no gradients of gradients).
        grad_variables: PyTorch's old name of ``grad_tensors``.
        inputs: refused: every leaf the graphs reach gets its gradient.

    ``tensor.backward(g)`` is ``backward(tensor, g)``.
    """
    if grad_variables is not None:
        if grad_tensors is not None:
            raise RuntimeError(
                "backward: give grad_tensors or its old name grad_variables, not both"
            )
        grad_tensors = grad_variables
    _refuse_create_graph("backward", create_graph)
    if inputs is not None:
        raise TinyLMError(
            "backward: inputs= is not supported; every leaf the graph reaches gets its "
            "gradient (zero or set aside the .grad of the others), or use autograd.grad"
        )
    if isinstance(tensors, TensorBase) and not isinstance(grad_tensors, list | tuple):
        _backward_from(tensors, grad_tensors, bool(retain_graph))  # Tensor.backward
        return
    root, gradient = _joint_root("backward", tensors, grad_tensors, "grad_tensors")
    _backward_from(root, gradient, bool(retain_graph))


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    only_inputs: bool = True,
    allow_unused: bool | None = None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, as ``torch.autograd.grad``:
    returned, not accumulated; no tensor's ``.grad`` changes.

    Args:
        outputs: a Tensor or a sequence of Tensors (shapes ``S_i``).
        inputs: a Tensor or a sequence of Tensors that require grad, leaves or not.
        grad_outputs: d(something)/d(outputs[i]), one per output, or None for a
            one-element output (then 1).
        retain_graph: keep the graph for another backward (default: ``create_graph``).
        create_graph: refused (gradients carry no graph here).
        allow_unused: an input the outputs do not depend on gives None (or zeros with
            ``materialize_grads``) instead of an error.
        only_inputs, is_grads_batched: PyTorch's; only their defaults are accepted.

    Returns:
        one gradient per input (a tuple even for one input), each of the input's shape.
    """
    _refuse_create_graph("grad", create_graph)
    if not only_inputs or is_grads_batched:
        raise TinyLMError("grad: only_inputs=False and is_grads_batched=True are not supported")
    single = isinstance(inputs, TensorBase)
    wanted = (inputs,) if single else inputs
    if not isinstance(wanted, list | tuple) or not wanted:
        raise TypeError(
            f"grad: inputs must be a Tensor or a non-empty list or tuple of Tensors, got "
            f"{inputs!r:.80}"
        )
    for i, t in enumerate(wanted):
        if not isinstance(t, TensorBase):
            raise TypeError(f"grad: inputs[{i}] must be a Tensor, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(
                f"grad: inputs[{i}] ({t.shape} {t.dtype}) does not require grad, so it has no "
                "gradient; create it with requires_grad=True"
            )
    root, gradient = _joint_root("grad", outputs, grad_outputs, "grad_outputs")
    captured = _backward_from(
        root, gradient, bool(retain_graph), capture={id(t): t for t in wanted}
    )
    result: list[Tensor | None] = []
    for i, t in enumerate(wanted):
        g = captured.get(id(t))
        if g is None:
            if not (allow_unused or materialize_grads):
                raise RuntimeError(
                    f"grad: inputs[{i}] ({t.shape} {t.dtype}) was not used to compute the "
                    "outputs; pass allow_unused=True to get None for it"
                )
            g = array_module(t.data).zeros(t.shape, dtype=t.dtype) if materialize_grads else None
        result.append(None if g is None else type(t)._wrap(g))
    return tuple(result)


def _refuse_create_graph(op: str, create_graph: bool) -> None:
    if create_graph:
        raise TinyLMError(
            f"{op}: create_graph=True is not supported: tinylm's backward rules work on "
            "arrays, so the gradients carry no graph (no gradients of gradients)"
        )


def _joint_root(op: str, tensors: Any, grad_tensors: Any, grads_name: str) -> tuple[Tensor, Any]:
    """The (root, gradient) that ``_backward_from`` differentiates for the outputs
    ``tensors`` weighted by ``grad_tensors`` (called ``grads_name`` by ``op``): the tensor
    itself for one, else a :class:`_JointRoot` over them all (gradient 1). Checks every
    pair in one clear line."""
    single = isinstance(tensors, TensorBase)
    if single:
        tensors = (tensors,)
    if not isinstance(tensors, list | tuple) or not tensors:
        raise TypeError(
            f"{op}: tensors must be a Tensor or a non-empty list or tuple of Tensors, got "
            f"{tensors!r:.80}"
        )
    if grad_tensors is None:
        grad_tensors = (None,) * len(tensors)
    elif isinstance(grad_tensors, TensorBase) or not isinstance(grad_tensors, list | tuple):
        grad_tensors = (grad_tensors,)
    if len(grad_tensors) != len(tensors):
        raise TinyLMError(
            f"{op}: got {len(tensors)} tensors and {len(grad_tensors)} gradients; give "
            "one gradient (or None) per tensor"
        )
    grads = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not isinstance(t, TensorBase):
            raise TypeError(f"{op}: tensors[{i}] must be a Tensor, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(
                f"{op}: tensors[{i}] ({t.shape} {t.dtype}) does not require grad and has "
                "no graph; create the inputs with requires_grad=True (and not inside no_grad())"
            )
        xp = array_module(t.data)
        if g is None:
            if t.data.size != 1:
                raise RuntimeError(
                    f"{op}: a gradient can be implied only for a single-element output, "
                    f"but tensors[{i}] has shape {t.shape}; pass {grads_name}[{i}] of that shape"
                )
            grads.append(xp.ones(t.shape, dtype=t.dtype))
            continue
        a = g.data if isinstance(g, TensorBase) else xp.asarray(g)
        if a.shape != t.shape:
            raise TinyLMError(
                f"{op}: {grads_name}[{i}] has shape {a.shape} but tensors[{i}] has shape {t.shape}"
            )
        grads.append(a.astype(t.dtype, copy=False))
    if len(tensors) == 1:
        return tensors[0], grads[0]
    with enable_grad():  # works under no_grad too; the joint root must be recorded
        root = _JointRoot.apply(*tensors, grads=tuple(grads))
    return root, None
