"""The lineage graph of a model's versions (parent → child), as a Plotly figure for the browser."""

from .choices import VersionStatus

STATUS_COLOURS = {
    VersionStatus.DRAFT: "#6c757d",
    VersionStatus.IN_REVIEW: "#ffc107",
    VersionStatus.APPROVED: "#0dcaf0",
    VersionStatus.REJECTED: "#dc3545",
    VersionStatus.RELEASED: "#198754",
    VersionStatus.DEPRECATED: "#343a40",
    VersionStatus.REVOKED: "#dc3545",
}


def _lanes(versions) -> dict[int, int]:
    """Children continue their parent's lane; a second child of the same parent opens a new lane."""
    lanes: dict[int, int] = {}
    used_by_parent: dict[int, int] = {}
    next_lane = 0
    for v in sorted(versions, key=lambda v: v.number):
        if v.parent_id in lanes and v.parent_id not in used_by_parent:
            lanes[v.pk] = lanes[v.parent_id]
            used_by_parent[v.parent_id] = v.pk
        else:
            lanes[v.pk] = next_lane
            next_lane += 1
            if v.parent_id is not None:
                used_by_parent.setdefault(v.parent_id, v.pk)
        next_lane = max(next_lane, lanes[v.pk] + 1)
    return lanes


def figure(versions, highlight: int | None = None) -> dict:
    versions = list(versions)
    if not versions:
        return {}
    lanes = _lanes(versions)
    by_pk = {v.pk: v for v in versions}
    edge_x, edge_y = [], []
    for v in versions:
        parent = by_pk.get(v.parent_id)
        if parent is not None:
            edge_x += [parent.number, v.number, None]
            edge_y += [-lanes[parent.pk], -lanes[v.pk], None]
    nodes = {
        "type": "scatter", "mode": "markers+text", "hoverinfo": "text",
        "x": [v.number for v in versions],
        "y": [-lanes[v.pk] for v in versions],
        "text": [f"v{v.number}" for v in versions],
        "textposition": "top center",
        "hovertext": [
            f"v{v.number} · {v.get_status_display()} · {v.flavour}<br>{v.created_at:%Y-%m-%d} by "
            f"{v.created_by.get_username()}<br>sha256 {v.artifact.sha256[:12]}…" for v in versions
        ],
        "marker": {
            "size": [22 if v.pk == highlight else 16 for v in versions],
            "color": [STATUS_COLOURS.get(v.status, "#6c757d") for v in versions],
            "line": {"width": [3 if v.pk == highlight else 1 for v in versions], "color": "#000"},
        },
        "customdata": [v.number for v in versions],
    }
    edges = {"type": "scatter", "mode": "lines", "x": edge_x, "y": edge_y, "hoverinfo": "skip",
             "line": {"color": "#adb5bd", "width": 2}}
    lane_count = max(lanes.values()) + 1
    return {
        "data": [edges, nodes],
        "layout": {
            "height": 120 + 50 * lane_count, "margin": {"l": 20, "r": 20, "t": 30, "b": 30},
            "showlegend": False, "hovermode": "closest",
            "xaxis": {"title": {"text": "version"}, "dtick": 1, "zeroline": False},
            "yaxis": {"visible": False, "range": [-lane_count + 0.3, 0.7]},
            "plot_bgcolor": "rgba(0,0,0,0)", "paper_bgcolor": "rgba(0,0,0,0)",
        },
    }
