"""`Params`: the per-sample parameters of a transform family, as one small tensor record."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Union, overload

import torch
import torch.utils._pytree as pytree
from torch import Tensor

__all__ = ["Params"]

Field = Union[Tensor, "Params"]
Index = int | slice | Sequence[int] | Tensor


class Params:
    """Named per-sample parameters, one row per sample, possibly nested.

    Every field is a tensor whose first dimension is the number of samples, or a nested
    ``Params`` with the same number of samples (composite families nest their children's).
    A ``Params`` is indexed like a batch, moves between devices, concatenates, and flattens to
    a ``dict`` of tensors (for ``safetensors`` or ``torch.save``) and back.

    Examples:
        >>> p = Params(angle=torch.tensor([10.0, -30.0, 90.0]))
        >>> len(p), p.angle.tolist()
        (3, [10.0, -30.0, 90.0])
        >>> p[1:].angle.tolist()
        [-30.0, 90.0]
        >>> nested = Params(step0=p, flip=torch.tensor([True, False, True]))
        >>> sorted(nested.to_dict())
        ['flip', 'step0.angle']
        >>> Params.from_dict(nested.to_dict())["step0"].angle.tolist()
        [10.0, -30.0, 90.0]
    """

    __slots__ = ("_fields", "_n")

    def __init__(self, **fields: Field) -> None:
        if not fields:
            raise ValueError("Params: expected at least one field, received none")
        lengths = {name: _length(name, value) for name, value in fields.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(
                f"Params: expected every field to have the same number of samples, "
                f"received {lengths}"
            )
        self._fields: dict[str, Field] = dict(fields)
        self._n: int = next(iter(lengths.values()))

    def __len__(self) -> int:
        return self._n

    def __getattr__(self, name: str) -> Any:
        if name in Params.__slots__:  # not set yet: an instance made without __init__
            raise AttributeError(name)
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(
                f"Params has no field {name!r}; its fields are {list(self._fields)}"
            ) from None

    @overload
    def __getitem__(self, index: str) -> Any: ...

    @overload
    def __getitem__(self, index: Index) -> Params: ...

    def __getitem__(self, index: str | Index) -> Any:
        """A field by name, or the rows selected by an int, slice, index list or mask."""
        if isinstance(index, str):
            return getattr(self, index)
        if isinstance(index, int):
            index = [index]
        if isinstance(index, Sequence) and not isinstance(index, Tensor):
            index = torch.as_tensor(index, dtype=torch.long)
        return Params(**{name: value[_on_device(index, value)] for name, value in self.items()})

    def keys(self) -> Iterator[str]:
        """The field names, in order."""
        return iter(self._fields)

    def items(self) -> Iterator[tuple[str, Field]]:
        """``(name, field)`` pairs, in order."""
        return iter(self._fields.items())

    @property
    def device(self) -> torch.device:
        """The device of the first tensor field."""
        first = next(iter(self._fields.values()))
        return first.device

    def to(self, device: torch.device | str) -> Params:
        """The same parameters on ``device``."""
        return Params(**{name: value.to(device) for name, value in self.items()})

    def to_dict(self, prefix: str = "") -> dict[str, Tensor]:
        """Flatten to ``{"field": tensor, "child.field": tensor, ...}``."""
        flat: dict[str, Tensor] = {}
        for name, value in self.items():
            if isinstance(value, Params):
                flat.update(value.to_dict(f"{prefix}{name}."))
            else:
                flat[f"{prefix}{name}"] = value
        return flat

    @classmethod
    def from_dict(cls, flat: Mapping[str, Tensor]) -> Params:
        """Rebuild the ``Params`` that `to_dict` flattened."""
        grouped: dict[str, Tensor | dict[str, Tensor]] = {}
        for key, value in flat.items():
            head, dot, rest = key.partition(".")
            if dot:
                child = grouped.setdefault(head, {})
                if not isinstance(child, dict):
                    raise ValueError(f"Params.from_dict: {head!r} is both a field and a group")
                child[rest] = value
            else:
                grouped[head] = value
        return cls(
            **{
                name: cls.from_dict(value) if isinstance(value, dict) else value
                for name, value in grouped.items()
            }
        )

    @classmethod
    def cat(cls, parts: Sequence[Params]) -> Params:
        """Concatenate parameter sets with the same fields along the sample dimension."""
        if not parts:
            raise ValueError("Params.cat: expected at least one Params, received none")
        names = list(parts[0].keys())
        for part in parts[1:]:
            if list(part.keys()) != names:
                raise ValueError(
                    f"Params.cat: expected fields {names} in every part, "
                    f"received {list(part.keys())}"
                )
        return cls(
            **{
                name: (
                    cls.cat([part[name] for part in parts])
                    if isinstance(parts[0][name], Params)
                    else torch.cat([part[name] for part in parts])
                )
                for name in names
            }
        )

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle (and ``copy``) as the fields alone, rebuilt through ``__init__``."""
        return _from_fields, (self._fields,)

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{name}={value!r}" if isinstance(value, Params) else f"{name}={_describe(value)}"
            for name, value in self.items()
        )
        return f"Params(n={self._n}, {inner})"


def _from_fields(fields: dict[str, Field]) -> Params:
    return Params(**fields)


def _flatten(params: Params) -> tuple[list[Field], list[str]]:
    return list(params._fields.values()), list(params._fields)


def _unflatten(values: Iterable[Field], names: list[str]) -> Params:
    return Params(**dict(zip(names, values, strict=True)))


def _flatten_with_keys(params: Params) -> tuple[list[tuple[Any, Field]], list[str]]:
    return [(pytree.GetAttrKey(name), value) for name, value in params.items()], list(
        params._fields
    )


# A pytree node, so that torch.compile, torch.export and torch.func see the tensors inside
pytree.register_pytree_node(
    Params,
    _flatten,
    _unflatten,
    serialized_type_name="invtransfer.transforms.Params",
    flatten_with_keys_fn=_flatten_with_keys,
)


def _length(name: str, value: object) -> int:
    if isinstance(value, Params):
        return len(value)
    if isinstance(value, Tensor) and value.ndim >= 1:
        return value.shape[0]
    raise TypeError(
        f"Params: field {name!r} must be a tensor with a sample dimension or a Params, "
        f"received {type(value).__name__}"
        + (f" of shape {tuple(value.shape)}" if isinstance(value, Tensor) else "")
    )


def _on_device(index: Index, value: Field) -> Index:
    if isinstance(index, Tensor) and isinstance(value, Tensor):
        return index.to(value.device)
    return index


def _describe(value: Tensor) -> str:
    return f"Tensor(shape={tuple(value.shape)}, dtype={value.dtype})"
