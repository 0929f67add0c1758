"""``Module`` and ``Parameter``: how a network keeps track of its weights.

A :class:`Module` is a Python object whose attributes may be

* :class:`Parameter` s — tensors the optimizer trains (``requires_grad=True``);
* buffers — tensors that belong to the model but are not trained (a positional table,
  running statistics), registered with :meth:`Module.register_buffer`;
* other Modules (its *children*), so a model is a tree: ``GPT → blocks → attn → q_proj``.

Assigning ``self.fc = Linear(4, 8)`` inside ``__init__`` is enough: ``__setattr__`` files
it under the right kind, and :meth:`Module.named_parameters` walks the tree, producing the
dotted names (``"blocks.0.attn.q_proj.weight"``) that state dicts use as keys.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from tinylm.autograd import RemovableHandle, TinyLMError, is_grad_enabled, no_grad
from tinylm.devices import device_and_dtype, device_of, to_device_array
from tinylm.nn.backward_hooks import BackwardHookCall
from tinylm.settings import compile as compile_model
from tinylm.tensor import Tensor

__all__ = [
    "EXTRA_STATE_KEY",
    "Buffer",
    "IncompatibleKeys",
    "Module",
    "ModuleDict",
    "ModuleList",
    "Parameter",
    "ParameterDict",
    "ParameterList",
    "Sequential",
    "structure_generation",
]

_generation = 0  # counts changes to any module's parameters, buffers and sub-modules


def structure_generation() -> int:
    """A number that changes whenever any Module gains, loses or replaces a parameter, a
    buffer or a sub-module (not when their values change). A cache of what a module is made
    of (``nn.TransformerBlock``'s fused decoding step keeps its weights' arrays) stays valid
    while it is unchanged."""
    return _generation


def _changed() -> None:
    global _generation
    _generation += 1


class Parameter(Tensor):
    """A Tensor that is a trainable weight of a Module (``requires_grad=True`` by default).

    ``Parameter(tensor)`` shares the tensor's memory, as in PyTorch.
    """

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty(0, dtype=np.float32)
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    @classmethod
    def _wrap(cls, array: Any, requires_grad: bool = False) -> Tensor:
        # what an op computes from a Parameter (w * 2, w.T) is a plain Tensor, as in
        # PyTorch: assigning it to a module attribute does not make a new weight
        return Tensor._wrap(array, requires_grad)


class Buffer(Tensor):
    """A tensor that, assigned to a Module attribute, becomes a buffer of that module, as
    PyTorch's ``nn.Buffer``: ``self.table = nn.Buffer(t)`` is
    ``self.register_buffer("table", t)``; ``persistent=False`` keeps it out of the
    ``state_dict``. ``Buffer(t)`` shares ``t``'s memory (``Buffer()``: an empty float32 one).

    Unlike PyTorch's (which returns a plain Tensor that only remembers it is a buffer), the
    object is of this subclass; what an op computes from it is a plain Tensor.
    """

    def __init__(self, data: Any = None, *, persistent: bool = True) -> None:
        if data is None:
            data = np.empty(0, dtype=np.float32)
        requires_grad = bool(data.requires_grad) if isinstance(data, Tensor) else False
        super().__init__(data.data if isinstance(data, Tensor) else data)
        if requires_grad:
            self.requires_grad_(True)
        self.persistent = bool(persistent)

    @classmethod
    def _wrap(cls, array: Any, requires_grad: bool = False) -> Tensor:
        return Tensor._wrap(array, requires_grad)


#: the state_dict key (after the module's prefix) of what ``Module.get_extra_state`` returns
EXTRA_STATE_KEY = "_extra_state"


class IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` could not match (empty lists when strict)."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _is_float(dtype: Any) -> bool:
    return np.issubdtype(dtype, np.floating)


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign their parameters, buffers and
    sub-modules as attributes, and implement ``forward``; calling the module calls forward.
    """

    training: bool

    def __init__(self) -> None:
        # object.__setattr__: our own __setattr__ needs these dicts to exist already
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward()")

    #: forward hooks {handle id: hook} (register_forward_pre_hook / register_forward_hook);
    #: None on the class: most modules have none, and calling them costs one test
    _forward_pre_hooks: dict[int, Any] | None = None
    _forward_hooks: dict[int, Any] | None = None

    #: full backward hooks (register_full_backward_pre_hook / register_full_backward_hook)
    #: and state-dict hooks, None on the class as the forward hooks
    _backward_pre_hooks: dict[int, Any] | None = None
    _backward_hooks: dict[int, Any] | None = None
    _state_dict_pre_hooks: dict[int, Any] | None = None
    _state_dict_hooks: dict[int, Any] | None = None
    _load_state_dict_pre_hooks: dict[int, Any] | None = None
    _load_state_dict_post_hooks: dict[int, Any] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if (
            self._forward_pre_hooks is None
            and self._forward_hooks is None
            and not self._backward_hooks
            and not self._backward_pre_hooks
        ):
            return self.forward(*args, **kwargs)
        for hook in list((self._forward_pre_hooks or {}).values()):
            new = hook(self, args)
            if new is not None:  # a hook may replace the positional inputs
                args = new if isinstance(new, tuple) else (new,)
        backward = None
        if (self._backward_hooks or self._backward_pre_hooks) and is_grad_enabled():
            backward = BackwardHookCall(
                self,
                list((self._backward_pre_hooks or {}).values()),
                list((self._backward_hooks or {}).values()),
            )
            args = backward.wrap_inputs(args)
        output = self.forward(*args, **kwargs)
        for hook in list((self._forward_hooks or {}).values()):
            new = hook(self, args, output)
            if new is not None:  # ... or the output
                output = new
        if backward is not None:
            output = backward.wrap_outputs(output)
        return output

    def _add_hook(self, store: str, hook: Callable[..., Any], prepend: bool = False):
        """File ``hook`` in the dict ``store`` (made on first use); first when ``prepend``."""
        if not callable(hook):
            raise TypeError(f"{store.strip('_')}: a hook must be callable, got {hook!r:.60}")
        hooks = getattr(self, store)
        if hooks is None:
            hooks = {}
            object.__setattr__(self, store, hooks)
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            for key in [k for k in hooks if k != handle.id]:
                hooks[key] = hooks.pop(key)
        return handle

    def register_full_backward_pre_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        """Call ``hook(module, grad_output)`` when the gradients with respect to this
        module's outputs are known, before they go on into the module: ``grad_output`` is a
        tuple, one gradient per output tensor (None for one that got none); a returned tuple
        replaces it. As PyTorch's (see :mod:`tinylm.nn.backward_hooks` for how)."""
        return self._add_hook("_backward_pre_hooks", hook, prepend)

    def register_full_backward_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` when the gradients with respect to
        this module's positional inputs are known: ``grad_input`` has one entry per
        positional argument (None for one that is not a tensor requiring grad), and a
        returned tuple replaces it; ``grad_output`` as for the pre-hook. When no input
        requires grad, the hook is called with grad_input all None once grad_output is
        known, as PyTorch's."""
        return self._add_hook("_backward_hooks", hook, prepend)

    def register_forward_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, args)`` before every ``forward``; a returned value (a tuple, or
        one input) replaces the positional inputs. ``handle.remove()`` takes it away."""
        if self._forward_pre_hooks is None:
            object.__setattr__(self, "_forward_pre_hooks", {})
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after every ``forward``, as PyTorch's: to look
        at (or plot) a layer's activations; a returned value replaces the output.
        ``handle.remove()`` takes it away."""
        if self._forward_hooks is None:
            object.__setattr__(self, "_forward_hooks", {})
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # ---- registering attributes ---------------------------------------------------------

    def _require_init(self, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {what} before Module.__init__() is called; put "
                f"super().__init__() first in {type(self).__name__}.__init__"
            )

    def _forget(self, name: str, keep: dict[str, Any] | None = None) -> None:
        """Remove ``name`` from every store but ``keep``: a parameter assigned again keeps
        its place in ``state_dict`` and ``parameters()`` (so an optimizer's order), as in
        PyTorch."""
        _changed()
        for store in (self._parameters, self._buffers, self._modules):
            if store is not keep:
                store.pop(name, None)
        self._non_persistent.discard(name)
        self.__dict__.pop(name, None)

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Buffer):  # nn.Buffer: registered as PyTorch does
            self.register_buffer(name, value, value.persistent)
        elif isinstance(value, Parameter):
            self._require_init("parameters")
            self._forget(name, keep=self._parameters)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._require_init("sub-modules")
            self._forget(name, keep=self._modules)
            self._modules[name] = value
        elif "_parameters" in self.__dict__ and name in self._parameters:
            if value is not None:
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to parameter {name!r} of "
                    f"{type(self).__name__}; wrap it in nn.Parameter (or assign None)"
                )
            self._parameters[name] = None
            _changed()
        elif "_buffers" in self.__dict__ and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"buffer {name!r} must be a Tensor or None, got {type(value)}")
            self._buffers[name] = value
            _changed()
        elif "_modules" in self.__dict__ and name in self._modules and value is None:
            self._modules[name] = None
            _changed()
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # only called when normal attribute lookup fails: look in our three stores
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters or name in self._buffers or name in self._modules:
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (``None`` declares an absent one, e.g. ``bias=False``)."""
        self._require_init("parameters")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None")
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is part of the model's state but not trained.

        Persistent buffers are saved in ``state_dict``; non-persistent ones (values that
        are cheap to recompute, like a sinusoid table) are not.
        """
        self._require_init("buffers")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        self._require_init("sub-modules")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module)}")
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    def register_module(self, name: str, module: Module | None) -> None:
        """PyTorch's other name of :meth:`add_module`."""
        self.add_module(name, module)

    # ---- walking the tree ---------------------------------------------------------------

    def named_modules(
        self, prefix: str = "", memo: set[int] | None = None, *, remove_duplicate: bool = True
    ):
        """(dotted name, module) for this module and every descendant: a module reachable
        under two names once, unless ``remove_duplicate=False`` (then under each name)."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(
                    f"{prefix}.{name}" if prefix else name, memo, remove_duplicate=remove_duplicate
                )

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, child in self._modules.items():
            if child is not None:
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def _named_members(self, store: str, prefix: str, recurse: bool, dedupe: bool):
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, t in getattr(module, store).items():
                if t is None or (dedupe and id(t) in seen):
                    continue
                seen.add(id(t))
                yield (f"{module_prefix}.{name}" if module_prefix else name), t, module, name

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs; a parameter shared by two layers appears once."""
        for full, t, _, _ in self._named_members("_parameters", prefix, recurse, remove_duplicate):
            yield full, t

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True):
        for full, t, _, _ in self._named_members("_buffers", prefix, recurse, True):
            yield full, t

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self, trainable_only: bool = False) -> int:
        """The number of scalar weights (shared parameters counted once); with
        ``trainable_only``, only those of parameters with ``requires_grad=True``."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def get_submodule(self, target: str) -> Module:
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules or module._modules[part] is None:
                raise AttributeError(f"{type(module).__name__} has no sub-module {part!r}")
            module = module._modules[part]
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target`` (``"blocks.0.attn.q_proj.weight"``);
        AttributeError, as PyTorch's, when there is none."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        value = module._parameters.get(name)
        if not isinstance(value, Parameter):
            what = "is not an nn.Parameter" if hasattr(module, name) else "has no such attribute"
            raise AttributeError(f"get_parameter: {type(module).__name__} {name!r} {what}")
        return value

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target``; AttributeError when there is none."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._buffers:
            what = "is not a buffer" if hasattr(module, name) else "has no such attribute"
            raise AttributeError(f"get_buffer: {type(module).__name__} {name!r} {what}")
        return module._buffers[name]

    def set_submodule(self, target: str, module: Module, strict: bool = False) -> None:
        """Put ``module`` at dotted path ``target``, as PyTorch's: the parent must exist; an
        attribute already there must be a module; with ``strict`` it must already exist."""
        if target == "":
            raise ValueError("set_submodule: cannot set the submodule without a target name")
        if not isinstance(module, Module):
            raise ValueError(f"set_submodule: module is not an nn.Module, found {type(module)}")
        path, _, name = target.rpartition(".")
        parent = self.get_submodule(path)
        exists = hasattr(parent, name)
        if strict and not exists:
            raise AttributeError(
                f"set_submodule: {type(parent).__name__} has no attribute {name!r}"
            )
        if exists and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"set_submodule: {name!r} is not an nn.Module")
        setattr(parent, name, module)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every sub-module (children first), then on self; e.g. for init."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients ------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active) for this module and all descendants."""
        mode = bool(mode)
        # a plain walk over the sub-module dicts, not modules(): generation switches modes at
        # every call, and modules() builds every descendant's dotted name on the way
        todo = [self]
        while todo:
            m = todo.pop()
            object.__setattr__(m, "training", mode)
            todo.extend(c for c in m._modules.values() if c is not None)
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout off): ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter of this module and its descendants.
        Frozen parameters get no ``.grad``, and optimizers skip them."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of all parameters (``None``, or zeros when not set_to_none)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            elif getattr(p.grad.data.flags, "writeable", True):  # in place: held references see it
                p.grad.data[...] = 0
            else:
                p.grad = Tensor._wrap(p._xp.zeros_like(p.data))

    # ---- devices and dtypes -------------------------------------------------------------

    def to(
        self, *args: Any, device: Any = None, dtype: Any = None, non_blocking: bool = False
    ) -> Module:
        """Move every parameter and buffer to a device ("cpu", "cuda") and/or convert the
        floating-point ones to a float dtype (PyTorch's forms, as :meth:`Tensor.to`). In
        place: the Parameter objects stay the same, so an optimizer built before ``.to``
        keeps working."""
        device, dtype = device_and_dtype("Module.to", args, device, dtype)
        if dtype is not None and not _is_float(dtype):
            raise TinyLMError(f"Module.to: can only convert to a float dtype, got {dtype}")

        def convert(a: Any) -> Any:
            if device is not None:
                a = to_device_array(a, device)
            return a.astype(dtype) if dtype is not None and _is_float(a.dtype) else a

        for t in [*self.parameters(), *self.buffers()]:
            new = convert(t.data)
            if new is not t.data:
                t._data = new
                t._version_counter.value += 1
            if t.grad is not None:
                t.grad = Tensor._wrap(convert(t.grad.data))
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Module:
        """Every parameter and buffer on a GPU: ``device`` is None (the current one), an
        index or a name."""
        return self.to("cuda" if device is None else device)

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    def half(self) -> Module:
        """Floating-point parameters and buffers to float16 (NumPy's half precision: tinylm
        holds it, and computes in it, slowly and without float32 accumulation)."""
        return self.to(np.float16)

    def bfloat16(self) -> Module:
        raise TinyLMError(
            "bfloat16: tinylm has no bfloat16 dtype (NumPy has none); use half() or float()"
        )

    def type(self, dst_type: Any) -> Module:
        """Every parameter and buffer (integer ones too, as PyTorch's) converted with
        ``Tensor.type(dst_type)``: a dtype or a name such as ``'torch.DoubleTensor'``. A
        parameter that requires grad cannot become an integer one."""
        targets = [*self.parameters(), *self.buffers()]
        converted = []
        for t in targets:
            new = t.detach().type(dst_type).data
            if isinstance(t, Parameter) and t.requires_grad and not _is_float(new.dtype):
                raise TinyLMError(
                    f"Module.type: cannot convert a parameter that requires grad to {new.dtype}"
                )
            converted.append(new)
        for t, new in zip(targets, converted):
            if new is not t.data:
                t._data = new
                t._version_counter.value += 1
            if t.grad is not None:
                t.grad = Tensor._wrap(t.grad.detach().type(dst_type).data)
        return self

    def to_empty(self, *, device: Any, recurse: bool = True) -> Module:
        """Every parameter and buffer (of this module only, unless ``recurse``) replaced by
        an uninitialised array of its shape and dtype on ``device``, as PyTorch's (used
        after building a model on PyTorch's "meta" device, which tinylm does not have)."""
        device, _ = device_and_dtype("Module.to_empty", (device,), None, None)
        for t in [*self.parameters(recurse), *self.buffers(recurse)]:
            where = device if device is not None else device_of(t.data)
            t._data = to_device_array(np.empty(t.shape, dtype=t.dtype), where)
            t._version_counter.value += 1
        return self

    def share_memory(self) -> Module:
        """PyTorch moves the tensors to shared memory for multiprocessing; tinylm's run in
        one process: returns the module unchanged."""
        return self

    def compile(self, *args: Any, **kwargs: Any) -> None:
        """PyTorch compiles the module's forward in place; tinylm runs eagerly, so this
        checks the arguments as ``tinylm.compile`` does and changes nothing."""
        compile_model(self.forward, *args, **kwargs)

    # ---- state dicts --------------------------------------------------------------------

    def state_dict(
        self, *args: Any, destination: Any = None, prefix: str = "", keep_vars: bool = False
    ) -> Any:
        """Ordered ``name → Tensor`` of all parameters and persistent buffers, and the
        ``"_extra_state"`` of each module whose class defines :meth:`get_extra_state`.

        As PyTorch's: ``prefix`` goes verbatim before every name (``prefix="model."`` gives
        ``model.weight``; ``"model"`` gives ``modelweight``); ``destination`` (a dict) is
        filled and returned instead of a new OrderedDict; ``keep_vars`` keeps the
        parameters themselves instead of detached tensors. Positional arguments are read as
        (destination, prefix, keep_vars) with PyTorch's FutureWarning.

        The tensors are detached (they share memory with the model, as in PyTorch): copy
        or save them before training on if you need a snapshot. Each module's
        ``register_state_dict_pre_hook`` hooks run before its entries are added, its
        ``register_state_dict_post_hook`` hooks after its sub-modules' (as PyTorch's).
        """
        if args:
            if len(args) > 3:
                raise TinyLMError(
                    f"state_dict: at most 3 positional arguments (destination, prefix, "
                    f"keep_vars), got {len(args)}"
                )
            warnings.warn(
                "Positional args are being deprecated, use kwargs instead. Refer to "
                "https://pytorch.org/docs/main/generated/torch.nn.Module.html#torch.nn.Module.state_dict"
                " for details.",
                FutureWarning,
                stacklevel=2,
            )
            given = [*args, *(destination, prefix, keep_vars)[len(args) :]]
            destination, prefix, keep_vars = given
        if destination is None:
            destination = OrderedDict()
        elif not isinstance(destination, dict):
            raise TinyLMError(
                f"state_dict: destination must be a dict (or None), got "
                f"{type(destination).__name__}"
            )
        self._save_state(destination, prefix, keep_vars)
        return destination

    def _save_state(self, out: OrderedDict[str, Any], prefix: str, keep_vars: bool) -> None:
        # recursive, as PyTorch's: a module shared under two names is saved under both
        for hook in list((self._state_dict_pre_hooks or {}).values()):
            hook(self, prefix, keep_vars)
        for name, t in self._parameters.items():
            if t is not None:
                out[prefix + name] = t if keep_vars else t.detach()
        for name, t in self._buffers.items():
            if t is not None and name not in self._non_persistent:
                out[prefix + name] = t if keep_vars else t.detach()
        if type(self).get_extra_state is not Module.get_extra_state:
            out[prefix + EXTRA_STATE_KEY] = self.get_extra_state()
        for name, child in self._modules.items():
            if child is not None:
                child._save_state(out, f"{prefix}{name}.", keep_vars)
        for hook in list((self._state_dict_hooks or {}).values()):
            if hook(self, out, prefix, {"version": 1}) is not None:
                raise RuntimeError(
                    "state_dict post-hook must return None (change the state dict in place)"
                )

    def get_extra_state(self) -> Any:
        """Override (with :meth:`set_extra_state`) to save anything else in ``state_dict``,
        under ``"<prefix>_extra_state"``, as PyTorch's. Not to be called unless overridden."""
        raise RuntimeError(
            f"{type(self).__name__}.get_extra_state() is not defined: override it (and "
            "set_extra_state) to keep extra state in the state dict"
        )

    def set_extra_state(self, state: Any) -> None:
        """Override to take back what :meth:`get_extra_state` returned (``load_state_dict``
        calls it with the ``"_extra_state"`` entry)."""
        raise RuntimeError(
            f"{type(self).__name__}.set_extra_state() is not defined: override it (and "
            "get_extra_state) to load extra state from a state dict"
        )

    def register_state_dict_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, prefix, keep_vars)`` before ``state_dict`` saves this
        module's entries."""
        return self._add_hook("_state_dict_pre_hooks", hook)

    def register_state_dict_post_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, state_dict, prefix, local_metadata)`` after ``state_dict`` has
        saved this module and its sub-modules; it may change ``state_dict`` in place (and
        must return None, as PyTorch's public post-hooks)."""
        return self._add_hook("_state_dict_hooks", hook)

    def register_load_state_dict_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` before ``load_state_dict`` reads this module's
        entries: it may change ``state_dict`` (the entries under ``prefix``, a copy of the
        caller's) in place, and append messages to ``error_msgs`` (which makes the load
        fail)."""
        return self._add_hook("_load_state_dict_pre_hooks", hook)

    def register_load_state_dict_post_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, incompatible_keys)`` after ``load_state_dict`` has loaded this
        module and its sub-modules; the hook may edit ``incompatible_keys.missing_keys`` and
        ``.unexpected_keys`` in place, and what is left decides a strict load's error."""
        return self._add_hook("_load_state_dict_post_hooks", hook)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True):
        """Copy values from ``state_dict`` into this module's parameters and buffers (and
        hand each ``"_extra_state"`` entry to its module's :meth:`set_extra_state`).

        Every problem is collected first and reported in one error — missing keys,
        unexpected keys (both only when ``strict``), shape mismatches, non-float values
        for float weights — and nothing is changed unless all entries fit (a strict load
        whose load-post-hooks leave missing or unexpected keys is undone). Floating-point
        values of another precision are converted to the parameter's dtype (a float64
        checkpoint loads into a float32 model). The load hooks run as PyTorch's.

        Returns:
            ``IncompatibleKeys(missing_keys, unexpected_keys)``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a mapping, got {type(state_dict)}")
        load = _Load(getattr(state_dict, "_metadata", None))
        load.visit(self, OrderedDict(state_dict), "")
        problems = list(load.problems)
        if strict:
            problems += [f"missing key {k!r}" for k in load.missing]
            problems += [f"unexpected key {k!r}" for k in load.unexpected]
        if load.problems or (problems and not load.post_hooks):
            self._refuse_load(problems)
        undo = [(t, t.data.copy()) for t, _ in load.updates] if load.post_hooks else []
        with no_grad():
            for target, raw in load.updates:
                target.copy_(to_device_array(raw, device_of(target.data)))
        for module, state in load.extra_states:
            module.set_extra_state(state)
        keys = IncompatibleKeys(load.missing, load.unexpected)
        for module, hook in load.post_hooks:
            if hook(module, keys) is not None:
                raise RuntimeError(
                    "load_state_dict post-hooks must return None (edit incompatible_keys in place)"
                )
        if strict and (keys.missing_keys or keys.unexpected_keys):
            with no_grad():
                for target, old in undo:
                    target.copy_(old)
            self._refuse_load(
                [f"missing key {k!r}" for k in keys.missing_keys]
                + [f"unexpected key {k!r}" for k in keys.unexpected_keys]
            )
        return keys

    def _refuse_load(self, problems: list[str]) -> None:
        raise TinyLMError(
            f"load_state_dict for {type(self).__name__}: {len(problems)} problem(s):\n  "
            + "\n  ".join(problems)
        )

    # ---- printing -----------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's line (override in layers)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        children = [f"({name}): " + _indent(repr(m), 2) for name, m in self._modules.items() if m]
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = ([extra] if extra else []) + children
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


class _Load:
    """What one ``load_state_dict`` call finds, module by module (PyTorch's walk: each
    module's load pre-hooks, then its own entries, then its sub-modules with the entries
    under their prefixes, then — recorded here, run after the copy — its post-hooks)."""

    def __init__(self, metadata: Any) -> None:
        self.metadata = metadata
        self.missing: list[str] = []
        self.unexpected: list[str] = []
        self.problems: list[str] = []
        self.updates: list[tuple[Tensor, Any]] = []
        self.extra_states: list[tuple[Module, Any]] = []
        self.post_hooks: list[tuple[Module, Callable[..., Any]]] = []

    def visit(self, module: Module, local: dict[str, Any], prefix: str) -> None:
        meta = {} if self.metadata is None else dict(self.metadata.get(prefix[:-1], {}))
        for hook in list((module._load_state_dict_pre_hooks or {}).values()):
            hook(
                module, local, prefix, meta, True, self.missing, self.unexpected,
                self.problems,
            )  # fmt: skip
        own = {n: t for n, t in module._parameters.items() if t is not None}
        own.update(
            (n, t)
            for n, t in module._buffers.items()
            if t is not None and n not in module._non_persistent
        )
        for name, target in own.items():
            key = prefix + name
            if key not in local:
                self.missing.append(key)
            else:
                self.check(key, target, local[key])
        extra = prefix + EXTRA_STATE_KEY
        if type(module).set_extra_state is not Module.set_extra_state:
            if extra in local:
                self.extra_states.append((module, local[extra]))
            else:
                self.missing.append(extra)
        elif extra in local:
            self.unexpected.append(extra)
        for key in local:
            if key.startswith(prefix) and key != extra:
                head, dot, _ = key[len(prefix) :].partition(".")
                if (dot and head not in module._modules) or (not dot and head not in own):
                    self.unexpected.append(key)
        for name, child in module._modules.items():
            if child is not None:
                stem = f"{prefix}{name}."
                self.visit(child, {k: v for k, v in local.items() if k.startswith(stem)}, stem)
        hooks = (module._load_state_dict_post_hooks or {}).values()
        self.post_hooks += [(module, h) for h in hooks]

    def check(self, key: str, target: Tensor, value: Any) -> None:
        raw = value.data if isinstance(value, Tensor) else value
        if not hasattr(raw, "shape"):
            raw = np.asarray(raw)
        if tuple(raw.shape) != target.shape:
            self.problems.append(
                f"{key!r}: shape {tuple(raw.shape)} in the state dict, {target.shape} in the model"
            )
        elif raw.dtype != target.dtype and not (_is_float(raw.dtype) and _is_float(target.dtype)):
            self.problems.append(
                f"{key!r}: dtype {raw.dtype} in the state dict cannot be converted to the "
                f"model's {target.dtype}"
            )
        else:
            self.updates.append((target, raw))


def _indent(text: str, spaces: int) -> str:
    return text.replace("\n", "\n" + " " * spaces)


# ---------------------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------------------


class Sequential(Module):
    """Modules applied one after another: ``Sequential(Linear(4, 8), ReLU(), Linear(8, 1))``.

    Also accepts an ``OrderedDict`` of named modules.
    """

    def __init__(self, *modules: Module | Mapping[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self._modules)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[_check_index(index, len(items))][1]


def _check_index(index: int, n: int) -> int:
    if not -n <= index < n:
        raise IndexError(f"index {index} is out of range for a container of {n} modules")
    return index % n


class ModuleList(Module):
    """A list of modules whose parameters the parent can see (a plain list would hide them)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        items = list(self._modules.values())
        items.insert(index, module)
        self._modules.clear()
        _changed()
        for i, m in enumerate(items):
            self.add_module(str(i), m)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(items[index])
        return items[_check_index(index, len(items))]

    def __setitem__(self, index: int, module: Module) -> None:
        self.add_module(str(_check_index(index, len(self))), module)


class ModuleDict(Module):
    """A dict of named modules whose parameters the parent can see."""

    def __init__(self, modules: Mapping[str, Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def update(self, modules: Mapping[str, Module]) -> None:
        for name, m in modules.items():
            self.add_module(name, m)

    def __getitem__(self, name: str) -> Module:
        return self._modules[name]

    def __setitem__(self, name: str, module: Module) -> None:
        self.add_module(name, module)

    def __delitem__(self, name: str) -> None:
        self._forget(name)

    def __contains__(self, name: str) -> bool:
        return name in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()


def _as_parameter(value: Any) -> Any:
    """A Tensor that is not yet a Parameter becomes one (sharing its memory), as PyTorch's
    ParameterList and ParameterDict do; anything else is kept as it is."""
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


def _entries_repr(container: Module, entries: Iterable[tuple[Any, Any]]) -> str:
    """PyTorch's listing of a ParameterList/Dict: one line per entry, its kind, dtype, size."""
    lines = []
    for key, p in entries:
        if isinstance(p, Tensor):
            kind = "Parameter containing" if isinstance(p, Parameter) else "Tensor"
            size = "x".join(str(n) for n in p.shape)
            lines.append(f"({key}): {kind}: [{p.dtype} of size {size}]")
        else:
            lines.append(f"({key}): Object of type: {type(p).__name__}")
    name = type(container).__name__
    return f"{name}(\n  " + "\n  ".join(lines) + "\n)" if lines else f"{name}()"


class ParameterList(Module):
    """A list of parameters whose parent can see them (a plain list would hide them):
    ``state_dict`` keys ``"0"``, ``"1"`` …, as in PyTorch. A Tensor put in becomes a
    Parameter (sharing its memory)."""

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        object.__setattr__(self, "_size", 0)
        if values is not None:
            self.extend(values)

    def _index(self, index: Any) -> int:
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"ParameterList indices must be integers or slices, not {index!r:.40}")
        if not -self._size <= index < self._size:
            raise IndexError(f"index {index} is out of range for a ParameterList of {self._size}")
        return int(index) % self._size

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return ParameterList([self[i] for i in range(self._size)[index]])
        return getattr(self, str(self._index(index)))

    def __setitem__(self, index: int, value: Any) -> None:
        setattr(self, str(self._index(index)), _as_parameter(value))

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(self._size))

    def __iadd__(self, values: Iterable[Any]) -> ParameterList:
        return self.extend(values)

    def append(self, value: Any) -> ParameterList:
        object.__setattr__(self, "_size", self._size + 1)
        self[self._size - 1] = value
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        if isinstance(values, Tensor) or not isinstance(values, Iterable):
            raise TypeError(f"ParameterList.extend needs an iterable, got {type(values).__name__}")
        for v in values:
            self.append(v)
        return self

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise TinyLMError("ParameterList is a container, not a layer: it cannot be called")

    def __repr__(self) -> str:
        return _entries_repr(self, enumerate(self))


class ParameterDict(Module):
    """A dict of named parameters whose parent can see them; ``state_dict`` keys are the
    names. As in PyTorch, an ``OrderedDict`` (or another ParameterDict) keeps its order, a
    plain dict is added in sorted key order, and a Tensor put in becomes a Parameter."""

    def __init__(self, parameters: Any = None) -> None:
        super().__init__()
        object.__setattr__(self, "_keys", {})
        if parameters is not None:
            self.update(parameters)

    def _check_key(self, key: Any) -> str:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict keys must be strings, got {key!r:.40}")
        return key

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        self._keys[self._check_key(key)] = None
        setattr(self, key, _as_parameter(value))

    def __delitem__(self, key: str) -> None:
        del self._keys[key]
        delattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def keys(self) -> Iterable[str]:
        return self._keys.keys()

    def values(self) -> Iterable[Any]:
        return [self[k] for k in self._keys]

    def items(self) -> Iterable[tuple[str, Any]]:
        return [(k, self[k]) for k in self._keys]

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    def pop(self, key: str) -> Any:
        value = self[key]
        del self[key]
        return value

    def clear(self) -> None:
        for key in list(self._keys):
            del self[key]

    def update(self, parameters: Any) -> None:
        if isinstance(parameters, OrderedDict | ParameterDict):
            pairs = list(parameters.items())
        elif isinstance(parameters, Mapping):
            pairs = sorted(parameters.items())
        elif isinstance(parameters, Iterable) and not isinstance(parameters, Tensor | str):
            pairs = list(parameters)
            for j, pair in enumerate(pairs):
                if not isinstance(pair, tuple | list) or len(pair) != 2:
                    raise TypeError(f"ParameterDict.update: element {j} is not a (key, value) pair")
        else:
            raise TypeError(
                f"ParameterDict.update needs a mapping or (key, value) pairs, got "
                f"{type(parameters).__name__}"
            )
        for key, value in pairs:
            self[key] = value

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise TinyLMError("ParameterDict is a container, not a layer: it cannot be called")

    def __repr__(self) -> str:
        return _entries_repr(self, self.items())
