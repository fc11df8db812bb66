"""The bounded template sandbox: each way of building something huge is refused with the
limit it hit, before the value is built (peak memory stays small), and ordinary templates
render as they always did."""

from __future__ import annotations

import threading
import tracemalloc
from typing import Any

import pytest

from engine.rendering import (
    MAX_COLLECTION_ITEMS,
    MAX_NUMBER_DIGITS,
    MAX_RENDER_STEPS,
    MAX_RENDERED_CHARS,
    MAX_TEXT_CHARS,
    TemplateLimitError,
    TemplateRenderError,
    render,
)

CUSTOMER: dict[str, Any] = {"name": "李女士", "tags": ["新客", "VIP"], "attributes": {}}
CTX: dict[str, Any] = {"coupon": {"code": "SIM00001", "face_value": 20}}

#: Far below what any attack here would allocate if it were built (20 MB to gigabytes).
PEAK_BYTES = 8_000_000

BIG = "{% set s = 'x' * 40000 %}"  # a text just under MAX_TEXT_CHARS
NESTED = BIG + "{% set a = [s, s, s, s, s, s, s, s, s, s] %}{% set b = [a, a, a, a, a, a, a, a] %}"

TEXT = "MAX_TEXT_CHARS"
ITEMS = "MAX_COLLECTION_ITEMS"
DIGITS = "MAX_NUMBER_DIGITS"
STEPS = "MAX_RENDER_STEPS"
OUTPUT = "MAX_RENDERED_CHARS"

#: (template, limit it hits, what the message names)
ATTACKS: dict[str, tuple[str, str, str]] = {
    # repetition
    "text repetition": ("{{ 'x' * 20000000 }}", TEXT, "'*'"),
    "repetition, number first": ("{{ 20000000 * customer.name }}", TEXT, "'*'"),
    "list repetition": ("{{ [0] * 100000000 }}", ITEMS, "'*'"),
    "bytes repetition": ("{{ 'x'.encode() * 20000000 }}", TEXT, "'*'"),
    # range
    "range": ("{{ range(10 ** 7)|list }}", ITEMS, "range()"),
    "range in a loop": ("{% for i in range(10 ** 7) %}{% endfor %}", ITEMS, "range()"),
    # concatenation, doubling a text in a namespace
    "doubling with ~": (
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        TEXT,
        "'~'",
    ),
    "doubling with +": (
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
        TEXT,
        "'+'",
    ),
    "list concatenation": (BIG + "{{ ([s] * 6000 + [s] * 6000)|length }}", ITEMS, "'+'"),
    # join
    "join filter": (BIG + "{{ ([s] * 5000)|join('-') }}", TEXT, "filter 'join'"),
    "join with a long separator": ("{{ range(10000)|join('x' * 40000) }}", TEXT, "'join'"),
    "join of an attribute": (
        BIG + "{{ ([{'t': s}] * 5000)|join(attribute='t') }}",
        TEXT,
        "filter 'join'",
    ),
    "str.join": (BIG + "{{ ''.join([s] * 5000) }}", TEXT, "join()"),
    # formatting
    "printf width": ("{{ '%0999999999d' % 1 }}", TEXT, "'%'"),
    "printf star width": ("{{ '%*d' % (999999999, 1) }}", TEXT, "'%'"),
    "printf precision": ("{{ '%.999999999f' % 1.5 }}", TEXT, "'%'"),
    "printf of a nested list": (NESTED + "{{ '%s' % (b,) }}", TEXT, "'%'"),
    "format filter": ("{{ '%099999999d'|format(1) }}", TEXT, "filter 'format'"),
    "str.format width": ("{{ '{:>999999999}'.format(1) }}", TEXT, "str.format()"),
    "str.format nested width": ("{{ '{:>{w}}'.format('x', w=999999999) }}", TEXT, "str.format()"),
    "str.format fields add up": (
        "{{ '{0:>30000}{0:>30000}'.format('x') }}",
        TEXT,
        "str.format()",
    ),
    "str.format !r": (NESTED + "{{ '{!r}'.format(b) }}", TEXT, "str.format()"),
    "format_map": ("{{ '{n:>999999999}'.format_map({'n': 1}) }}", TEXT, "str.format()"),
    # filters that pad, wrap, indent, replace, batch
    "center": ("{{ 'x'|center(999999999) }}", TEXT, "filter 'center'"),
    "indent width": ("{{ 'a'|indent(999999999) }}", TEXT, "filter 'indent'"),
    "indent of many lines": ("{{ ('a\\n' * 20000)|indent(10) }}", TEXT, "filter 'indent'"),
    "wordwrap with a long wrapstring": (
        "{{ ('a b ' * 10000)|wordwrap(1, wrapstring='x' * 1000) }}",
        TEXT,
        "filter 'wordwrap'",
    ),
    "replace filter": ("{{ ('x' * 40000)|replace('x', 'yyyyy') }}", TEXT, "filter 'replace'"),
    "batch fill": ("{{ range(3)|batch(999999999, 0)|list }}", ITEMS, "filter 'batch'"),
    "slice count": ("{{ range(3)|slice(999999999)|list }}", ITEMS, "filter 'slice'"),
    "sum of lists": (
        "{% set l = range(5000)|list %}{{ [l, l, l]|sum(start=[])|length }}",
        ITEMS,
        "filter 'sum'",
    ),
    "string of a nested list": (NESTED + "{{ b|string|length }}", TEXT, "filter 'string'"),
    "tojson of a nested list": (NESTED + "{{ b|tojson|length }}", TEXT, "filter 'tojson'"),
    "list of a long text": ("{{ ('x' * 40000)|list|length }}", ITEMS, "filter 'list'"),
    "lipsum": ("{{ lipsum(10 ** 6) }}", STEPS, "steps"),
    # text methods
    "ljust": ("{{ 'x'.ljust(999999999) }}", TEXT, "ljust()"),
    "center method": ("{{ customer.name.center(999999999) }}", TEXT, "center()"),
    "zfill": ("{{ '1'.zfill(999999999) }}", TEXT, "zfill()"),
    "expandtabs": ("{{ ('\\t' * 1000).expandtabs(1000) }}", TEXT, "expandtabs()"),
    "replace method": ("{{ ('x' * 40000).replace('x', 'yyyyy') }}", TEXT, "replace()"),
    "translate": ("{{ ('x' * 40000).translate({120: 'y' * 1000}) }}", TEXT, "translate()"),
    "bytes ljust": ("{{ 'x'.encode().ljust(999999999) }}", TEXT, "ljust()"),
    "int to_bytes": ("{{ (1).to_bytes(999999999, 'big') }}", TEXT, "to_bytes()"),
    # numbers
    "power": ("{{ 9 ** 999999 }}", DIGITS, "'**'"),
    "squaring in a loop": (
        "{% set ns = namespace(n=7) %}{% for i in range(40) %}"
        "{% set ns.n = ns.n * ns.n %}{% endfor %}{{ ns.n > 0 }}",
        DIGITS,
        "'*'",
    ),
    # printing references to one text many times
    "printing a nested list": (NESTED + "{{ b }}", TEXT, "'{{ }}'"),
    "printing a namespace": (NESTED + "{% set ns = namespace(v=b) %}{{ ns }}", TEXT, "'{{ }}'"),
    "printing dict items": (BIG + "{{ {'k': [s, s, s]}.items() }}", TEXT, "'{{ }}'"),
    "~ of lists": (BIG + "{{ [s, s] ~ [s] }}", TEXT, "'~'"),
    # loops: output, captured output, time
    "nested loops printing": (
        "{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}",
        OUTPUT,
        "the message",
    ),
    "nested loops captured in a set block": (
        "{% set x %}{% for i in range(10000) %}{% for j in range(10000) %}xxxx"
        "{% endfor %}{% endfor %}{% endset %}{{ x|length }}",
        STEPS,
        "steps",
    ),
    "nested loops doing nothing": (
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
        STEPS,
        "steps",
    ),
    "a filter over a long list in a loop": (
        "{% set big = range(10000)|list %}{% for i in big %}{{ big|sort|length }}{% endfor %}",
        STEPS,
        "steps",
    ),
    "a lazy filter chain in a loop": (
        "{% for i in range(10000) %}{% if range(10000)|select('odd')|list %}{% endif %}"
        "{% endfor %}",
        STEPS,
        "steps",
    ),
    "upper of a long text in a loop": (
        BIG + "{% for i in range(10000) %}{{ s|upper|length }}{% endfor %}",
        STEPS,
        "steps",
    ),
    "macro fan-out": (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(40) }}",
        STEPS,
        "steps",
    ),
    "recursive loop fan-out": (
        "{% for x in range(4) recursive %}{% if loop.depth < 30 %}{{ loop(range(4)) }}"
        "{% endif %}{% endfor %}",
        STEPS,
        "steps",
    ),
    # the message itself
    "message just too long": ("{{ 'x' * 10001 }}", OUTPUT, "the message"),
}

LIMITS = {
    TEXT: MAX_TEXT_CHARS,
    ITEMS: MAX_COLLECTION_ITEMS,
    DIGITS: MAX_NUMBER_DIGITS,
    STEPS: MAX_RENDER_STEPS,
    OUTPUT: MAX_RENDERED_CHARS,
}


def _refused(template: str) -> tuple[TemplateLimitError, int]:
    """The limit error of ``template`` and the peak memory its render allocated."""
    tracemalloc.start()
    try:
        with pytest.raises(TemplateLimitError) as raised:
            render(template, customer=CUSTOMER, ctx=CTX)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return raised.value, peak


@pytest.mark.parametrize("case", sorted(ATTACKS))
def test_attack_is_refused_before_it_is_built(case: str) -> None:
    template, limit_name, where = ATTACKS[case]
    error, peak = _refused(template)
    assert (error.limit_name, error.limit) == (limit_name, LIMITS[limit_name])
    assert where in error.reason and str(LIMITS[limit_name]) in error.reason, error.reason
    assert isinstance(error, TemplateRenderError) and error.template == template
    assert peak < PEAK_BYTES, f"{case}: {peak} bytes allocated"


def test_messages_name_the_limit() -> None:
    reasons = {
        name: _refused(ATTACKS[case][0])[0].reason
        for name, case in (
            (TEXT, "text repetition"),
            (ITEMS, "range"),
            (DIGITS, "power"),
            (STEPS, "nested loops doing nothing"),
            (OUTPUT, "message just too long"),
        )
    }
    assert reasons == {
        TEXT: "'*' would make a text longer than 50000 characters",
        ITEMS: "range() would make a list of more than 10000 items",
        DIGITS: "'**' would make a number of more than 1000 digits",
        STEPS: "the template takes more than 50000 steps (loop rounds, calls, filters) to render",
        OUTPUT: "the message would be longer than 10000 characters",
    }


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ customer.name }}，您的{{ ctx.coupon.face_value }}元券 {{ ctx.coupon.code }}", None),
        ("{{ customer.tags|join('、') }}", "新客、VIP"),
        (
            "{% for t in customer.tags %}{{ loop.index }}.{{ t }}/{{ loop.length }} {% endfor %}",
            None,
        ),
        ("{{ 'a' ~ 1 ~ customer.name }}", "a1李女士"),
        ("{{ '%s-%05d' % ('x', 3) }} {{ '%s|%s'|format(1, 2) }}", "x-00003 1|2"),
        ("{{ '{}:{:>4}'.format('a', 'b') }} {{ '{name}'.format_map(customer) }}", "a:   b 李女士"),
        ("{{ 'ab'|center(6) }}|{{ 'x'|indent(2, true) }}|{{ 'a b c'|wordwrap(2) }}", None),
        ("{{ range(3)|list }} {{ [1, 2]|sum }} {{ [[1], [2]]|sum(start=[]) }}", None),
        ("{{ range(7)|batch(3, 0)|list }} {{ range(5)|slice(2)|list }}", None),
        ("{{ range(10)|select('odd')|map('string')|join('-') }}", "1-3-5-7-9"),
        (
            "{% set ns = namespace(s='') %}{% for i in range(3) %}{% set ns.s = ns.s ~ i %}"
            "{% endfor %}{{ ns.s }}",
            "012",
        ),
        ("{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(1) }}", "<1>"),
        ("{{ 2 ** 10 }} {{ 3 * 4 }} {{ 'ab' * 2 }} {{ [1] * 2 }} {{ 7 % 3 }}", None),
        ("{% set x %}{% for i in range(3) %}{{ i }}{% endfor %}{% endset %}[{{ x }}]", "[012]"),
        ("{% filter upper %}ab{% endfilter %}{{ customer.missing }}", "AB"),
        ("{% for a in [[1, [2]]] recursive %}{{ a }}{% endfor %}", "[1, [2]]"),
        ("{% for x in customer.tags if x != 'VIP' %}{{ x }}{% else %}-{% endfor %}", "新客"),
        ("{{ 'x' * 10000 }}", "x" * MAX_RENDERED_CHARS),  # exactly the limit
    ],
)
def test_ordinary_templates_render_as_before(template: str, expected: str | None) -> None:
    rendered = render(template, customer=CUSTOMER, ctx=CTX)
    if expected is None:
        # the same template through plain Jinja: the bounds change nothing below the limits
        import jinja2

        expected = jinja2.Environment().from_string(template).render(customer=CUSTOMER, ctx=CTX)
    assert rendered == expected


@pytest.mark.parametrize(
    "template",
    ["{{ ''.__class__ }}", "{{ customer.tags.append('x') }}", "{{ 1 / 0 }}", "{{ customer.name"],
)
def test_other_failures_stay_render_errors(template: str) -> None:
    with pytest.raises(TemplateRenderError) as raised:
        render(template, customer=CUSTOMER, ctx=CTX)
    assert not isinstance(raised.value, TemplateLimitError)


def test_each_render_has_its_own_budget_across_threads() -> None:
    # Four renders at once, each taking most of the step budget: none is charged for another.
    template = "{% for i in range(200) %}{% for j in range(100) %}{% endfor %}{% endfor %}ok"
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(render(template, customer={}, ctx={})))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["ok"] * 4
