"""The code Jinja generates for dbt's templates, kept on disk between processes (jinja_cache)."""

from __future__ import annotations

import os
import textwrap

import pytest
from conftest import python_stdout
from dbt_common.clients.jinja import get_template

from dagster_project.lib.dbt import jinja_cache

TEMPLATE = "{% set n = 3 %}{% for i in range(n) %}{{ i * 2 }},{% endfor %}{{ who }}"


@pytest.fixture
def compiles(tmp_path, monkeypatch):
    """The cache installed in `tmp_path`; the list of sources Jinja itself compiled."""
    monkeypatch.setattr(jinja_cache, "_cache_dir", jinja_cache._cache_dir)  # restored after
    jinja_cache.install(tmp_path)
    compiled: list[str] = []
    original = jinja_cache._compile_template

    def counting(env, source, *args):
        compiled.append(source)
        return original(env, source, *args)

    monkeypatch.setattr(jinja_cache, "_compile_template", counting)
    return compiled


def render(source: str, native: bool = False, **values) -> str:
    # dbt builds a new environment for every template string, as it does for models and macros.
    return get_template(source, {}, native=native).render(values)


def test_a_template_is_compiled_once_then_read_back(tmp_path, compiles):
    assert render(TEMPLATE, who="x") == "0,2,4,x"
    assert compiles == [TEMPLATE]
    assert len(list(tmp_path.glob("*.code"))) == 1
    assert render(TEMPLATE, who="y") == "0,2,4,y"  # read back: the same code
    assert compiles == [TEMPLATE]


def test_another_source_or_environment_is_another_entry(tmp_path, compiles):
    render(TEMPLATE, who="x")
    render(TEMPLATE.replace("* 2", "* 3"), who="x")
    render("{{ 1 + 1 }}", native=True)  # dbt's native environment generates other code
    render("{{ 1 + 1 }}")
    assert len(compiles) == 4
    assert len(list(tmp_path.glob("*.code"))) == 4
    assert str(render("{{ 1 + 1 }}", native=True)) == "2"
    assert render("{{ 1 + 1 }}") == "2"
    assert len(compiles) == 4


def test_an_unreadable_entry_is_compiled_again_and_replaced(tmp_path, compiles):
    render(TEMPLATE, who="x")
    (entry,) = tmp_path.glob("*.code")
    entry.write_bytes(b"not marshalled code")
    assert render(TEMPLATE, who="z") == "0,2,4,z"
    assert compiles == [TEMPLATE, TEMPLATE]
    entry.write_bytes(entry.read_bytes()[:10])  # truncated, as by a full disk
    assert render(TEMPLATE, who="w") == "0,2,4,w"
    assert len(compiles) == 3
    assert render(TEMPLATE, who="v") == "0,2,4,v"
    assert len(compiles) == 3


def test_a_new_process_reuses_what_an_earlier_one_compiled(tmp_path):
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from dbt_common.clients.jinja import get_template
        from dagster_project.lib.dbt import jinja_cache
        jinja_cache.install(Path({str(tmp_path)!r}))
        compiled = []
        original = jinja_cache._compile_template
        jinja_cache._compile_template = lambda env, source, *a: (
            compiled.append(source) or original(env, source, *a))
        print(get_template({TEMPLATE!r}, {{}}).render({{"who": "p"}}), len(compiled))
        """
    )
    assert python_stdout(script) == "0,2,4,p 1"
    assert python_stdout(script) == "0,2,4,p 0"


def test_past_the_limit_the_oldest_half_of_the_entries_goes(tmp_path, monkeypatch):
    monkeypatch.setattr(jinja_cache, "_cache_dir", jinja_cache._cache_dir)  # restored after
    monkeypatch.setattr(jinja_cache, "MAX_ENTRIES", 10)
    for n in range(12):
        entry = tmp_path / f"{n:02d}.code"
        entry.write_bytes(b"x")
        os.utime(entry, (1_000 + n, 1_000 + n))  # written in this order
    jinja_cache.install(tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.code")) == [
        f"{n:02d}.code" for n in range(6, 12)
    ]
    jinja_cache.install(tmp_path)  # under the limit: nothing more goes
    assert len(list(tmp_path.glob("*.code"))) == 6
