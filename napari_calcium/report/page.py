"""The page kit of every HTML report: one page skeleton, embedded figures, table cells."""

from __future__ import annotations

#: Style of every HTML report: one readable column, bordered number tables.
PAGE_STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:1em auto}"
    "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:2px 8px;text-align:right}"
    "td:first-child{text-align:left}tr.total{font-weight:bold}tr.apart{color:#777}"
    "figure{display:inline-block;margin:4px}figcaption{font-size:small}"
    "table.small{font-size:x-small}td.text{text-align:left}"
)


def html_page(title: str, body: str, style: str = PAGE_STYLE) -> str:
    """A standalone HTML page (``title`` escaped, ``body`` HTML) in ``style`` (CSS)."""
    import html

    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>\n<style>{style}</style></head><body>\n"
        f"{body}\n</body></html>\n"
    )


def png_tag(fig, alt: str = "chart") -> str:
    """A matplotlib figure as an ``<img>`` with the PNG embedded (the page stands alone)."""
    import base64
    import html
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def report_cell(value, digits: int | None = None) -> str:
    """A value as an HTML table cell's text: ``n/a`` for None, yes / no, fixed decimals."""
    import html

    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if digits is not None and isinstance(value, int | float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))
