"""dbt's (de)serializers prepared on first use instead of as each class is created.

Every dbt class (~300: nodes, configs, results, events) is a mashumaro dataclass, and mashumaro
prepares its `to_dict`/`from_dict` and msgpack methods as the class is created, even under dbt's
`lazy_compilation` setting, which only postpones the methods' bodies. That preparation costs
~0.5-0.8 s of every process that imports dbt, and a pass uses ~50 of those classes (measured,
issue 9). For the classes that opted into lazy compilation, `install` postpones all of it to the
first access of one of those methods; the class then holds exactly what mashumaro would have
given it at creation. Other mashumaro classes are prepared at creation, as before.
"""

from __future__ import annotations

import functools
import threading
import weakref

import mashumaro.mixins.dict as dict_mixin
from mashumaro.core.meta.code.builder import CodeBuilder
from mashumaro.core.meta.helpers import is_dataclass_dict_mixin_subclass

# One lock for every class: preparing a class may prepare the classes of its fields.
_lock = threading.RLock()
# class -> the preparations mashumaro asked for at its creation, in order
_pending: weakref.WeakKeyDictionary[type, list[functools.partial]] = weakref.WeakKeyDictionary()


class Deferred:
    """Stands in a class's `__dict__` for a method mashumaro has not prepared yet."""

    def __init__(self, owner: type, name: str):
        self.owner = owner
        self.name = name

    def __get__(self, instance, cls=None):
        prepare(self.owner)
        if self.owner.__dict__.get(self.name) is self:
            # mashumaro gave up on it (an unresolved type it accepts): resolve as it would have
            delattr(self.owner, self.name)
        return getattr(instance if instance is not None else cls or self.owner, self.name)


def prepare(cls: type) -> None:
    """Run the preparations postponed for `cls`, once."""
    with _lock:
        for step in _pending.pop(cls, ()):
            step()


def _method_names(cls: type, kind: str, format_name: str, coder) -> list[str]:
    """The attributes mashumaro sets on `cls` for one preparation (see its CodeBuilder)."""
    if kind == "pack":
        internal = CodeBuilder.get_pack_method_name(format_name=format_name, encoder=coder)
    else:
        internal = CodeBuilder.get_unpack_method_name(format_name=format_name, decoder=coder)
    return [internal, internal.public] if is_dataclass_dict_mixin_subclass(cls) else [internal]


def _postponed(kind: str, compile_now):
    @functools.wraps(compile_now)
    def compile_later(cls: type, format_name: str = "dict", dialect=None, **coder) -> None:
        if not getattr(getattr(cls, "Config", None), "lazy_compilation", False):
            compile_now(cls, format_name=format_name, dialect=dialect, **coder)
            return
        step = functools.partial(
            compile_now, cls, format_name=format_name, dialect=dialect, **coder
        )
        with _lock:
            _pending.setdefault(cls, []).append(step)
        coded_by = coder.get("encoder" if kind == "pack" else "decoder")
        for name in _method_names(cls, kind, format_name, coded_by):
            setattr(cls, name, Deferred(cls, name))

    compile_later.estore_postponed = True  # type: ignore[attr-defined]
    return compile_later


def install() -> None:
    """Postpone the preparation of mashumaro classes created from now on (idempotent)."""
    if getattr(dict_mixin.compile_mixin_packer, "estore_postponed", False):
        return
    # DataClassDictMixin.__init_subclass__ reads these two names from its module at each call.
    dict_mixin.compile_mixin_packer = _postponed("pack", dict_mixin.compile_mixin_packer)
    dict_mixin.compile_mixin_unpacker = _postponed("unpack", dict_mixin.compile_mixin_unpacker)
