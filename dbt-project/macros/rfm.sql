{#- The RFM segments of metrics.md, in precedence order: (order, name, rule on the scores R, F, M).
    The first rule that matches wins; the last one is the catch-all. -#}
{% macro estore_rfm_segments() -%}
    {{ return([
        (1, 'Champions', 'R >= 4 and F >= 4 and M >= 4'),
        (2, 'At Risk', 'R <= 2 and F >= 4 and M >= 4'),
        (3, 'Loyal Customers', 'R >= 4 and F >= 3'),
        (4, 'Potential Loyalists', 'R >= 3 and F >= 3'),
        (5, 'Recent Customers', 'R >= 4 and F < 3'),
        (6, 'Promising', 'R = 3 and F < 3'),
        (7, 'About To Sleep', 'R <= 2 and F >= 3'),
        (8, 'Lost', 'R <= 2 and F <= 2 and M <= 2'),
        (9, 'Needs Attention', '1 = 1'),
    ]) }}
{%- endmacro %}

{#- CASE expression giving the segment name (what='name') or its order (what='order') for the
    score columns r, f, m. -#}
{% macro estore_rfm_segment_case(r, f, m, what='name') -%}
    case
    {%- for order, name, rule in estore_rfm_segments() %}
        {%- set condition = rule | replace('R', r) | replace('F', f) | replace('M', m) %}
        when {{ condition }} then {% if what == 'name' %}'{{ name }}'{% else %}{{ order }}{% endif %}
    {%- endfor %}
    end
{%- endmacro %}
