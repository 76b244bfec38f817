"""Write `findings.md`: the headline insights, every number computed from the marts."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from dagster_project.lib.dashboards.marts import SCHEMA, existing_tables

AT_RISK_SEGMENTS = ("At Risk", "About To Sleep", "Needs Attention")
# Columns an ML score table may use for the observed outcome, in order of preference.
LABEL_HINTS = ("label", "actual", "target", "outcome", "purchased", "churned")


def money(x: float | None) -> str:
    return "-" if x is None else f"{float(x):,.2f}"


def percent(x: float | None) -> str:
    """A share as '12.5%'; '-' when there is none (no buyers yet: every share is null)."""
    return "-" if x is None else f"{float(x):.1%}"


def segments(con) -> list[str]:
    rows = con.execute(
        f"""select rfm_segment, buyers, buyer_share, revenue::double, revenue_share
            from {SCHEMA}.metrics_rfm_segments order by revenue desc"""
    ).fetchall()
    lines = [
        "| Segment | Buyers | Share of buyers | Revenue | Share of revenue |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {s} | {b:,} | {percent(bs)} | {money(r)} | {percent(rs)} |" for s, b, bs, r, rs in rows
    ]
    if rows:
        top = rows[0]
        lines.append(
            f"\nThe largest revenue segment is **{top[0]}**: {percent(top[2])} of buyers bring "
            f"{percent(top[4])} of revenue."
        )
    return lines


def at_risk(con) -> list[str]:
    marks = ", ".join("?" for _ in AT_RISK_SEGMENTS)
    rows = con.execute(
        f"""select rfm_segment, count(*), sum(monetary)::double, avg(recency_days)
            from {SCHEMA}.dim_user_rfm where rfm_segment in ({marks})
            group by 1 order by 3 desc""",
        list(AT_RISK_SEGMENTS),
    ).fetchall()
    total = con.execute(f"select sum(monetary)::double from {SCHEMA}.dim_user_rfm").fetchone()[0]
    if not rows:
        return ["No buyers in the at-risk segments."]
    lines = [
        f"- **{s}**: {n:,} buyers who have spent {money(v)} "
        f"({percent(v / total if total else None)} of all buyer revenue), "
        f"last order {rec:.0f} days ago on average."
        for s, n, v, rec in rows
    ]
    return lines


def churn(con) -> list[str]:
    rows = con.execute(
        f"""select cohort, eligible_buyers, churned_buyers, churn_rate, status
            from {SCHEMA}.metrics_churn_cohorts order by is_overall, cohort_month"""
    ).fetchall()
    return [
        f"- {c}: {percent(r)} churned ({ch} of {e} eligible buyers; status {st})."
        for c, e, ch, r, st in rows
    ]


def funnel(con) -> list[str]:
    # Steps as the metric contract defines them: of the sessions that reached a stage,
    # how many also reached the next one (REES46 has purchases without a cart event).
    row = con.execute(
        f"""select sessions_with_view, sessions_with_view_and_cart,
                   sessions_with_cart, sessions_with_cart_and_purchase
            from {SCHEMA}.metrics_funnel limit 1"""
    ).fetchone()
    if row is None:
        return ["No sessions yet."]
    views, view_cart, carts, cart_purchase = row
    steps = [
        (name, before, after, 1 - after / before)
        for name, before, after in (
            ("view -> cart", views, view_cart),
            ("cart -> purchase", carts, cart_purchase),
        )
        if before
    ]
    if not steps:
        return ["No sessions with views yet."]
    lines = [f"- {n}: {a:,} of {b:,} sessions continue ({percent(1 - d)})." for n, b, a, d in steps]
    name, _, _, drop = max(steps, key=lambda s: s[3])
    lines.append(f"\nThe biggest drop is **{name}**: {percent(drop)} of sessions stop there.")
    return lines


def days(con) -> list[str]:
    rows = con.execute(
        f"""(select 'Best', sales_date, revenue::double, orders from {SCHEMA}.metrics_sales_daily
             order by revenue desc limit 3)
            union all
            (select 'Worst', sales_date, revenue::double, orders from {SCHEMA}.metrics_sales_daily
             order by revenue asc limit 3)"""
    ).fetchall()
    return [f"- {k}: {d} with revenue {money(r)} from {o:,} orders." for k, d, r, o in rows]


def _columns(con, table: str) -> dict[str, str]:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = ? and table_name = ?",
        [SCHEMA, table],
    ).fetchall()
    return dict(rows)


def model_lift(con, table: str) -> str | None:
    """Top-decile lift: outcome rate among the 10% highest scores over the overall rate."""
    cols = _columns(con, table)
    score = next((c for c in cols if "score" in c or "prob" in c), None)
    label = next((c for h in LABEL_HINTS for c in cols if h in c), None)
    if score is None or label is None:
        return None
    row = con.execute(
        f"""with ranked as (
              select cast("{label}" as double) as y, ntile(10) over (order by "{score}" desc) as d
              from {SCHEMA}.{table} where "{label}" is not null)
            select avg(y) filter (where d = 1), avg(y) from ranked"""
    ).fetchone()
    top, base = row
    if not base:
        return None
    return (
        f"- {table}: top-decile lift {top / base:.2f}x ({percent(top)} vs {percent(base)} overall)."
    )


SECTIONS = (
    ("Customer segments (RFM)", ("metrics_rfm_segments",), segments),
    ("At-risk customers", ("dim_user_rfm",), at_risk),
    ("Churn by cohort", ("metrics_churn_cohorts",), churn),
    ("Funnel", ("metrics_funnel",), funnel),
    ("Best and worst days", ("metrics_sales_daily",), days),
)


def build_findings(con: duckdb.DuckDBPyConnection) -> str:
    present = existing_tables(con)
    out = ["# Findings", ""]
    if "metrics_headline" in present:
        row = con.execute(
            f"""select first_event_date, last_event_date, revenue::double, orders, buyers, aov
                from {SCHEMA}.metrics_headline limit 1"""
        ).fetchone()
        if row:
            f, last, rev, orders, buyers, aov = row
            out += [
                f"Data from {f} to {last}: revenue {money(rev)} from {orders:,} orders by "
                f"{buyers:,} buyers (AOV {money(aov)}).",
                "",
            ]
    for title, needs, section in SECTIONS:
        out.append(f"## {title}\n")
        if all(n in present for n in needs):
            out += section(con)
        else:
            out.append(f"_Not available yet (needs {', '.join(needs)})._")
        out.append("")
    out.append("## Models\n")
    lifts = [
        line
        for t in ("ml_purchase_scores", "ml_churn_scores")
        if t in present and (line := model_lift(con, t))
    ]
    out += lifts or ["_Models not trained yet, or their scores carry no observed outcome._"]
    out.append("")
    return "\n".join(out)


def write_findings(con: duckdb.DuckDBPyConnection, target: Path) -> Path:
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.tmp")
    partial.write_text(build_findings(con), encoding="utf-8")
    os.replace(partial, target)
    return target
