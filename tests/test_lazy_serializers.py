"""dbt's mashumaro classes are prepared on first use (lib/dbt/lazy_serializers.py), and then
behave exactly as classes prepared at creation."""

import subprocess
import sys
import threading
from dataclasses import dataclass, field

from mashumaro.config import BaseConfig
from mashumaro.mixins.msgpack import DataClassMessagePackMixin

from dagster_project.lib.dbt import lazy_serializers
from dagster_project.lib.dbt.lazy_serializers import Deferred


class LazyConfig(BaseConfig):
    lazy_compilation = True


def _classes(lazy: bool):
    """Two nested classes and a subclass, created now (each call makes new classes; the
    annotations are evaluated here, so that mashumaro can resolve the local `Item`)."""
    config = LazyConfig if lazy else BaseConfig

    @dataclass
    class Item(DataClassMessagePackMixin):
        sku: int
        tags: list[str] = field(default_factory=list)
        Config = config

    @dataclass
    class Order(DataClassMessagePackMixin):
        order_id: str
        items: list[Item]
        note: str | None = None
        Config = config

    @dataclass
    class PaidOrder(Order):
        paid: float = 0.0

    return Item, Order, PaidOrder


DATA = {"order_id": "o1", "items": [{"sku": 1, "tags": ["a"]}, {"sku": 2, "tags": []}], "paid": 9.5}


def test_classes_that_opt_into_lazy_compilation_are_prepared_on_first_use():
    item, order, paid_order = _classes(lazy=True)
    for cls in (item, order, paid_order):
        assert isinstance(cls.__dict__["__mashumaro_from_dict__"], Deferred), cls
        assert isinstance(cls.__dict__["to_msgpack"], Deferred), cls

    paid = paid_order.from_dict(DATA)

    assert type(paid) is paid_order  # the subclass, not the class its parent prepared
    assert paid.items == [item(1, ["a"]), item(2, [])]
    assert not isinstance(paid_order.__dict__["__mashumaro_from_dict__"], Deferred)
    assert isinstance(order.__dict__["__mashumaro_from_dict__"], Deferred)  # still unused


def test_prepared_on_first_use_they_serialize_as_classes_prepared_at_creation():
    *_, lazy = _classes(lazy=True)
    *_, eager = _classes(lazy=False)
    assert not isinstance(eager.__dict__["__mashumaro_from_dict__"], Deferred)

    lazy_paid, eager_paid = lazy.from_dict(DATA), eager.from_dict(DATA)

    assert lazy_paid.to_dict() == eager_paid.to_dict() == {**DATA, "note": None}
    assert lazy_paid.to_msgpack() == eager_paid.to_msgpack()
    assert lazy.from_msgpack(eager_paid.to_msgpack()) == lazy_paid


def test_threads_that_first_use_a_class_together_all_get_its_methods():
    *_, paid_order = _classes(lazy=True)
    results, errors = [], []
    start = threading.Barrier(4)

    def use() -> None:
        start.wait()
        try:
            results.append(paid_order.from_dict(DATA).to_dict())
        except Exception as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert results == [{**DATA, "note": None}] * 4


def test_install_twice_keeps_one_layer():
    before = lazy_serializers.dict_mixin.compile_mixin_packer
    lazy_serializers.install()
    assert lazy_serializers.dict_mixin.compile_mixin_packer is before


def test_dbt_classes_are_created_unprepared_and_work_when_used():
    """In a process of its own (this one has used many dbt classes already)."""
    script = """
import dagster_project
import dbt.contracts.graph.nodes
from dbt.artifacts.resources import NodeConfig
from dagster_project.lib.dbt.lazy_serializers import Deferred
from dbt_common.dataclass_schema import dbtClassMixin

def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)

classes = set(subclasses(dbtClassMixin))
waiting = [c for c in classes if isinstance(c.__dict__.get("to_dict"), Deferred)]
config = NodeConfig.from_dict({"materialized": "table", "tags": ["daily"]})
print(len(classes), len(waiting), config.to_dict()["materialized"], config.tags)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    classes, waiting = int(out[0]), int(out[1])
    assert classes > 200
    assert waiting > 0.9 * classes
    assert out[2:] == ["table", "['daily']"]
