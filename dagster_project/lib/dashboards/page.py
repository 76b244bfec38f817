"""Render the built-in dashboard: one self-contained HTML file with Plotly charts.

Every chart is aggregated in SQL with a row cap, so the page stays a few MB at any data size
(plotly.js itself, inlined once, is most of it). A chart whose mart is missing becomes a note.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from dagster_project.lib.dashboards.findings import money, percent
from dagster_project.lib.dashboards.marts import SCHEMA, existing_tables

MAX_DAYS = 400  # daily charts show the latest days only
MAX_COHORTS = 26  # retention heatmap rows
MAX_WEEKS = 26  # retention heatmap columns
TOP_N = 20
SCATTER_CAP = 500
TEMPLATE = "plotly_white"  # every chart's look
LTV_BINS = 30

# What to do with each RFM segment (the usual playbook for these segment names).
SEGMENT_ACTIONS = {
    "Champions": "Reward them; ask for reviews; early access to new products.",
    "Loyal Customers": "Upsell higher-value products; loyalty programme.",
    "Potential Loyalists": "Membership offers; personalised recommendations.",
    "Recent Customers": "Onboarding; help them to a second purchase quickly.",
    "Promising": "Build brand awareness; free trials and small offers.",
    "Needs Attention": "Limited-time offers based on their past purchases.",
    "About To Sleep": "Reactivate with popular products and discounts.",
    "At Risk": "Personal win-back emails; strong offers before they leave.",
    "Lost": "Low-cost reactivation campaign, otherwise let go.",
}


@dataclass(frozen=True)
class Chart:
    section: str
    key: str
    title: str
    needs: tuple[str, ...]
    build: Callable[[duckdb.DuckDBPyConnection], go.Figure | None]


def _q(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql.replace("{s}", SCHEMA)).fetchall()


def _cols(rows: list[tuple]) -> list[list]:
    return [list(c) for c in zip(*rows, strict=True)] if rows else []


def sales_chart(con) -> go.Figure | None:
    rows = _q(
        con,
        f"""select * from (
              select sales_date, revenue::double, revenue_change_rate, orders, aov
              from {{s}}.metrics_sales_daily order by sales_date desc limit {MAX_DAYS}
            ) order by sales_date""",
    )
    if not rows:
        return None
    day, revenue, wow, orders, aov = _cols(rows)
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        specs=[[{"secondary_y": True}], [{}], [{}]],
        subplot_titles=("Revenue and week-over-week change", "Orders", "AOV"),
    )
    fig.add_trace(go.Bar(x=day, y=revenue, name="Revenue"), row=1, col=1)
    fig.add_trace(
        go.Scatter(x=day, y=wow, name="Revenue vs same day last week", mode="lines"),
        row=1,
        col=1,
        secondary_y=True,
    )
    fig.add_trace(go.Scatter(x=day, y=orders, name="Orders", mode="lines"), row=2, col=1)
    fig.add_trace(go.Scatter(x=day, y=aov, name="AOV", mode="lines"), row=3, col=1)
    fig.update_yaxes(tickformat=".0%", secondary_y=True, row=1, col=1)
    fig.update_layout(height=700)
    return fig


def funnel_overall_chart(con) -> go.Figure | None:
    rows = _q(
        con,
        """select sessions, sessions_with_view, sessions_with_cart, sessions_with_purchase
           from {s}.metrics_funnel limit 1""",
    )
    if not rows:
        return None
    stages = ["Sessions", "Viewed", "Carted", "Purchased"]
    return go.Figure(go.Funnel(y=stages, x=list(rows[0]), textinfo="value+percent initial"))


def funnel_daily_chart(con) -> go.Figure | None:
    rows = _q(
        con,
        f"""select * from (
              select session_date, view_to_cart_rate, cart_to_purchase_rate, view_to_purchase_rate
              from {{s}}.metrics_conversion_daily order by session_date desc limit {MAX_DAYS}
            ) order by session_date""",
    )
    if not rows:
        return None
    day, v2c, c2p, v2p = _cols(rows)
    fig = go.Figure()
    for name, ys in (("View -> cart", v2c), ("Cart -> purchase", c2p), ("View -> purchase", v2p)):
        fig.add_trace(go.Scatter(x=day, y=ys, name=name, mode="lines"))
    fig.update_yaxes(tickformat=".0%")
    return fig


def ltv_chart(con) -> go.Figure | None:
    # Equal-width bins up to the 99th percentile; the long tail goes in the last bin.
    rows = _q(
        con,
        f"""with buyers as (
              select historical_ltv::double as ltv from {{s}}.dim_users where is_buyer),
            edge as (select greatest(quantile_cont(ltv, 0.99), 1) / {LTV_BINS} as width from buyers)
            select least(floor(ltv / width), {LTV_BINS - 1}) * width as bin_start, count(*)
            from buyers, edge group by 1 order by 1""",
    )
    if not rows:
        return None
    start, buyers = _cols(rows)
    fig = go.Figure(go.Bar(x=start, y=buyers, name="Buyers"))
    fig.update_layout(xaxis_title="Lifetime value (bin start)", yaxis_title="Buyers")
    return fig


def churn_chart(con) -> go.Figure | None:
    rows = _q(
        con,
        """select cohort, churn_rate, eligible_buyers from {s}.metrics_churn_cohorts
           where churn_rate is not null order by is_overall, cohort_month""",
    )
    if not rows:
        return None
    cohort, rate, eligible = _cols(rows)
    fig = go.Figure(go.Bar(x=cohort, y=rate, customdata=eligible, name="Churn rate"))
    fig.update_traces(hovertemplate="%{x}: %{y:.1%} of %{customdata} eligible buyers")
    fig.update_yaxes(tickformat=".0%")
    return fig


def retention_chart(con) -> go.Figure | None:
    rows = _q(
        con,
        f"""with cohorts as (
              select distinct cohort_week from {{s}}.metrics_retention_weekly
              order by cohort_week desc limit {MAX_COHORTS})
            select cohort_type, cohort_week, week_offset, retention_rate
            from {{s}}.metrics_retention_weekly join cohorts using (cohort_week)
            where week_offset < {MAX_WEEKS}
            order by cohort_type desc, cohort_week, week_offset""",
    )
    if not rows:
        return None
    types = sorted({r[0] for r in rows}, reverse=True)
    fig = make_subplots(rows=1, cols=len(types), subplot_titles=[f"{t} retention" for t in types])
    for i, kind in enumerate(types, start=1):
        weeks = sorted({r[1] for r in rows if r[0] == kind})
        offsets = sorted({r[2] for r in rows if r[0] == kind})
        grid = {(r[1], r[2]): r[3] for r in rows if r[0] == kind}
        z = [[grid.get((w, o)) for o in offsets] for w in weeks]
        fig.add_trace(
            go.Heatmap(
                z=z,
                x=offsets,
                y=[str(w) for w in weeks],
                coloraxis="coloraxis",
                name=kind,
            ),
            row=1,
            col=i,
        )
        fig.update_xaxes(title_text="Weeks since first week", row=1, col=i)
    fig.update_layout(coloraxis={"colorscale": "Blues"}, height=500)
    return fig


def rfm_chart(con) -> go.Figure | None:
    rows = _q(
        con,
        """select rfm_segment, buyers, revenue::double from {s}.metrics_rfm_segments
           order by segment_order""",
    )
    if not rows:
        return None
    segment, buyers, revenue = _cols(rows)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Revenue", "Buyers"))
    fig.add_trace(go.Bar(x=segment, y=revenue, name="Revenue"), row=1, col=1)
    fig.add_trace(go.Bar(x=segment, y=buyers, name="Buyers"), row=1, col=2)
    return fig


def rfm_actions_table(con) -> go.Figure | None:
    rows = _q(
        con,
        """select rfm_segment, buyers, buyer_share, revenue_share from {s}.metrics_rfm_segments
           order by segment_order""",
    )
    if not rows:
        return None
    segment, buyers, pop, rev = _cols(rows)
    actions = [SEGMENT_ACTIONS.get(s, "-") for s in segment]
    cells = [segment, buyers, [percent(x) for x in pop], [percent(x) for x in rev], actions]
    header = ["Segment", "Buyers", "Share of buyers", "Share of revenue", "Suggested action"]
    fig = go.Figure(go.Table(header={"values": header}, cells={"values": cells}))
    fig.update_layout(height=420)
    return fig


def top_products_chart(con) -> go.Figure | None:
    rows = _q(
        con,
        f"""select product_id::varchar || ' ' || coalesce(brand, '') as label, revenue::double
            from {{s}}.mart_product_performance where revenue > 0
            order by revenue desc limit {TOP_N}""",
    )
    if not rows:
        return None
    label, revenue = _cols(rows)
    fig = go.Figure(go.Bar(x=revenue[::-1], y=label[::-1], orientation="h", name="Revenue"))
    fig.update_layout(height=560, xaxis_title="Revenue")
    return fig


def conversion_chart(con) -> go.Figure | None:
    rows = _q(
        con,
        f"""select product_id::varchar, views, view_to_purchase_rate, revenue::double
            from {{s}}.mart_product_performance where views > 0
            order by views desc limit {SCATTER_CAP}""",
    )
    if not rows:
        return None
    pid, views, rate, revenue = _cols(rows)
    fig = go.Figure(
        go.Scatter(x=views, y=rate, text=pid, mode="markers", marker={"size": 7}, name="Products")
    )
    fig.update_layout(xaxis_title="Views", yaxis_title="View -> purchase rate")
    fig.update_yaxes(tickformat=".0%")
    return fig


def cross_sell_chart(con) -> go.Figure | None:
    rows = _q(
        con,
        f"""select product_id::varchar || ' ' || coalesce(any_value(brand), '') as label,
                   sum(expected_lost_revenue) as lost, count(*) as users
            from {{s}}.mart_cross_sell_candidates group by product_id
            order by lost desc limit {TOP_N}""",
    )
    if not rows:
        return None
    label, lost, users = _cols(rows)
    fig = go.Figure(
        go.Bar(x=lost[::-1], y=label[::-1], orientation="h", customdata=users[::-1], name="Lost")
    )
    fig.update_traces(hovertemplate="%{y}: %{x:,.2f} from %{customdata} viewers")
    fig.update_layout(height=560, xaxis_title="Expected lost revenue")
    return fig


def _score_column(con, table: str) -> str | None:
    rows = _q(
        con,
        f"""select column_name from information_schema.columns
            where table_schema = '{{s}}' and table_name = '{table}'
              and data_type in ('DOUBLE', 'FLOAT', 'REAL') order by ordinal_position""",
    )
    names = [r[0] for r in rows]
    for hint in ("score", "probability", "prob", "expected_value", "expected"):
        for name in names:
            if hint in name:
                return name
    return names[0] if names else None


def model_scores_chart(con) -> go.Figure | None:
    fig = go.Figure()
    for table in ("ml_purchase_scores", "ml_churn_scores"):
        if table not in existing_tables(con):
            continue
        column = _score_column(con, table)
        if column is None:
            continue
        rows = _q(
            con,
            f"""select floor("{column}" * 20) / 20 as bin, count(*) from {{s}}.{table}
                where "{column}" is not null group by 1 order by 1""",
        )
        if rows:
            bins, counts = _cols(rows)
            fig.add_trace(go.Bar(x=bins, y=counts, name=f"{table}.{column}"))
    if not fig.data:
        return None
    fig.update_layout(barmode="group", xaxis_title="Score (0.05 bins)", yaxis_title="Users")
    return fig


def model_quality_chart(con) -> go.Figure | None:
    """Holdout ROC AUC and top-decile lift of each current model beside its baselines and the
    oracle (the generator's truth, on generated data)."""
    rows = _q(
        con,
        """select task, scorer, roc_auc, top_decile_lift from {s}.ml_model_evaluation
           order by task, scorer""",
    )
    if not rows:
        return None
    fig = make_subplots(rows=1, cols=2, subplot_titles=("ROC AUC (holdout)", "Top-decile lift"))
    for task in sorted({r[0] for r in rows}):
        mine = [r for r in rows if r[0] == task]
        scorers = [r[1] for r in mine]
        fig.add_trace(go.Bar(x=scorers, y=[r[2] for r in mine], name=f"{task} AUC"), 1, 1)
        fig.add_trace(go.Bar(x=scorers, y=[r[3] for r in mine], name=f"{task} lift"), 1, 2)
    fig.update_layout(barmode="group")
    return fig


def retention_targets_table(con) -> go.Figure | None:
    column = _score_column(con, "ml_retention_targets")
    if column is None:
        return None
    rows = con.execute(
        f'select * from {SCHEMA}.ml_retention_targets order by "{column}" desc nulls last'
        f" limit {TOP_N}"
    )
    header = [d[0] for d in rows.description]
    data = rows.fetchall()
    if not data:
        return None
    cells = [[f"{v:,.3f}" if isinstance(v, float) else v for v in col] for col in _cols(data)]
    fig = go.Figure(go.Table(header={"values": header}, cells={"values": cells}))
    fig.update_layout(height=600)
    return fig


CHARTS = (
    Chart(
        "Sales & AOV",
        "sales",
        "Daily revenue, orders and AOV",
        ("metrics_sales_daily",),
        sales_chart,
    ),
    Chart(
        "Funnel",
        "funnel",
        "View -> cart -> purchase (sessions)",
        ("metrics_funnel",),
        funnel_overall_chart,
    ),
    Chart(
        "Funnel",
        "funnel_daily",
        "Conversion by day",
        ("metrics_conversion_daily",),
        funnel_daily_chart,
    ),
    Chart("Customers", "ltv", "Lifetime value of buyers", ("dim_users",), ltv_chart),
    Chart(
        "Customers",
        "churn",
        "Churn by first-purchase cohort",
        ("metrics_churn_cohorts",),
        churn_chart,
    ),
    Chart(
        "Customers",
        "retention",
        "Weekly retention by cohort",
        ("metrics_retention_weekly",),
        retention_chart,
    ),
    Chart("RFM", "rfm", "Revenue and buyers by RFM segment", ("metrics_rfm_segments",), rfm_chart),
    Chart(
        "RFM",
        "rfm_actions",
        "What to do with each segment",
        ("metrics_rfm_segments",),
        rfm_actions_table,
    ),
    Chart(
        "Products",
        "top_products",
        f"Top {TOP_N} products by revenue",
        ("mart_product_performance",),
        top_products_chart,
    ),
    Chart(
        "Products",
        "conversion",
        f"Conversion of the {SCATTER_CAP} most viewed products",
        ("mart_product_performance",),
        conversion_chart,
    ),
    Chart(
        "Products",
        "cross_sell",
        "Cross-sell candidates by expected lost revenue",
        ("mart_cross_sell_candidates",),
        cross_sell_chart,
    ),
    Chart(
        "Models",
        "model_quality",
        "Current models beside their baselines and the oracle",
        ("ml_model_evaluation",),
        model_quality_chart,
    ),
    Chart(
        "Models",
        "model_scores",
        "Score distributions",
        ("ml_purchase_scores|ml_churn_scores",),
        model_scores_chart,
    ),
    Chart(
        "Models",
        "retention_targets",
        f"Top {TOP_N} retention targets",
        ("ml_retention_targets",),
        retention_targets_table,
    ),
)

# Counts the drawn plots and marks of every chart and any script error, for people and tests.
STATUS_SCRIPT = """
<script>
window.renderErrors = [];
window.addEventListener('error', function (e) { window.renderErrors.push(String(e.message)); });
(function () {  // console errors count too
  var original = console.error;
  console.error = function () {
    window.renderErrors.push(Array.prototype.join.call(arguments, ' '));
    return original.apply(console, arguments);
  };
})();
window.addEventListener('load', function () {
  setTimeout(function () {
    var lines = [];
    document.querySelectorAll('div.chart').forEach(function (div) {
      var plots = div.querySelectorAll('.js-plotly-plot .main-svg').length;
      var marks = div.querySelectorAll('g.trace, g.hm, g.table').length;
      lines.push(div.dataset.chart + ' plots=' + plots + ' marks=' + marks);
    });
    lines.push('errors=' + JSON.stringify(window.renderErrors));
    document.getElementById('render-status').textContent = lines.join('\\n');
  }, 500);
});
</script>
"""

STYLE = """
<style>
body { font-family: system-ui, sans-serif; margin: 0 2rem 2rem; color: #222; }
h1 { margin-bottom: 0; } h2 { border-bottom: 2px solid #ddd; padding-top: 1rem; }
.note { color: #777; font-style: italic; padding: 1rem; background: #f6f6f6; }
.kpis { display: flex; gap: 2rem; flex-wrap: wrap; }
.kpi b { display: block; font-size: 1.6rem; }
#render-status { color: #999; font-size: 0.7rem; }
</style>
"""


@dataclass(frozen=True)
class RenderedPage:
    path: Path
    size_bytes: int
    charts: list[str]  # keys of the charts drawn
    notes: list[str]  # keys of the charts skipped


def _available(needs: tuple[str, ...], present: set[str]) -> bool:
    return all(any(alt in present for alt in need.split("|")) for need in needs)


def _headline(con, present: set[str]) -> str:
    if "metrics_headline" not in present:
        return ""
    cur = con.execute(
        f"""select first_event_date, last_event_date, revenue::double, orders, aov, buyers,
                   view_to_purchase_rate, churn_rate from {SCHEMA}.metrics_headline limit 1"""
    )
    row = cur.fetchone()
    if row is None:
        return ""
    first, last, revenue, orders, aov, buyers, v2p, churn = row
    items = [
        ("Revenue", money(revenue)),
        ("Orders", f"{orders:,}" if orders is not None else "-"),
        ("AOV", money(aov)),
        ("Buyers", f"{buyers:,}" if buyers is not None else "-"),
        ("View -> purchase", percent(v2p)),
        ("Churn rate", percent(churn)),
    ]
    kpis = "".join(f'<div class="kpi">{html.escape(k)}<b>{v}</b></div>' for k, v in items)
    return f"<p>{first} to {last}</p><div class='kpis'>{kpis}</div>"


@contextmanager
def _default_template(name: str) -> Iterator[None]:
    """Figures made inside start with plotly's template `name`. A new figure takes the default
    template without validating it again; `update_layout(template=...)` validates and copies it
    for every figure (0.3 s of a page's 0.5 s)."""
    previous = pio.templates.default
    pio.templates.default = name
    try:
        yield
    finally:
        pio.templates.default = previous


def render_page(con: duckdb.DuckDBPyConnection, target: Path) -> RenderedPage:
    """Write the dashboard page to `target` (atomically) and say what it holds."""
    with _default_template(TEMPLATE):
        return _render_page(con, target)


def _render_page(con: duckdb.DuckDBPyConnection, target: Path) -> RenderedPage:
    present = existing_tables(con)
    body: list[str] = []
    drawn: list[str] = []
    skipped: list[str] = []
    section = None
    plotlyjs_done = False
    for chart in CHARTS:
        if chart.section != section:
            section = chart.section
            body.append(f"<h2>{html.escape(section)}</h2>")
        body.append(f"<h3>{html.escape(chart.title)}</h3>")
        fig = None
        if _available(chart.needs, present):
            try:
                fig = chart.build(con)
            except duckdb.Error as exc:  # a mart with an unexpected shape: note it, keep going
                body.append(f"<p class='note'>Could not draw: {html.escape(str(exc))}</p>")
                skipped.append(chart.key)
                continue
        if fig is None:
            wanted = ", ".join(n.replace("|", " or ") for n in chart.needs)
            why = "Models not trained yet" if chart.section == "Models" else "No data yet"
            body.append(f"<p class='note'>{why} (reads {html.escape(wanted)}).</p>")
            skipped.append(chart.key)
            continue
        fig.update_layout(margin={"t": 40, "b": 40})
        figure_html = fig.to_html(
            full_html=False,
            include_plotlyjs=not plotlyjs_done,
            div_id=f"fig-{chart.key}",
            config={"displaylogo": False, "responsive": True},
        )
        plotlyjs_done = True
        body.append(f'<div class="chart" data-chart="{chart.key}">{figure_html}</div>')
        drawn.append(chart.key)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<title>estore analytics dashboard</title>"
        f"{STYLE}{STATUS_SCRIPT}</head><body>"
        f"<h1>estore analytics</h1>{_headline(con, present)}"
        + "".join(body)
        + "<pre id='render-status'>rendering...</pre></body></html>"
    )
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.tmp")
    partial.write_text(page, encoding="utf-8")
    os.replace(partial, target)
    return RenderedPage(target, target.stat().st_size, drawn, skipped)
