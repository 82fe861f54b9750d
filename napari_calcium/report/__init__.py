"""HTML reports and result tables (privacy-safe: no patient identity).

* :mod:`~napari_calcium.report.page` — the page kit every HTML report uses
  (:func:`html_page`, :func:`png_tag`, :func:`report_cell`);
* :mod:`~napari_calcium.report.coronary` — the coronary lesion table, CSV and HTML report;
* :mod:`~napari_calcium.report.ivus` — the IVUS HTML report.

The names are importable from ``napari_calcium.report`` as before;
``atomic_write_text`` stays here as an alias of
:func:`napari_calcium.io.atomic.atomic_write_text` (scripts import it here).
"""

from napari_calcium.io.atomic import atomic_write_text
from napari_calcium.report.coronary import (
    CENTROID_COLUMNS,
    CORONARY_LESION_COLUMNS,
    CORONARY_SETTINGS_SHOWN,
    THRESHOLD_FREE_KEYS,
    coronary_csv_text,
    coronary_html,
    coronary_lesion_rows,
)
from napari_calcium.report.ivus import IVUS_LESION_COLUMNS, IVUS_REPORT_SETTINGS, ivus_html
from napari_calcium.report.page import PAGE_STYLE, html_page, png_tag, report_cell

__all__ = [
    "CENTROID_COLUMNS",
    "CORONARY_LESION_COLUMNS",
    "CORONARY_SETTINGS_SHOWN",
    "IVUS_LESION_COLUMNS",
    "IVUS_REPORT_SETTINGS",
    "PAGE_STYLE",
    "THRESHOLD_FREE_KEYS",
    "atomic_write_text",
    "coronary_csv_text",
    "coronary_html",
    "coronary_lesion_rows",
    "html_page",
    "ivus_html",
    "png_tag",
    "report_cell",
]
