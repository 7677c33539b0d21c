"""Data quality report of a dataset: holes, incidents, latency, rates and a grade.

``collector quality DATASET [--out report.html] [--json]`` (see ``cli``).
Programs call ``build_report(path)`` and get a ``Report`` (``model``); the
terminal view (``terminal``), ``--json`` (``model.to_json_dict``) and the HTML
(``html``) all render that same object. The grade rubric is in ``grade``.

Modules: ``scan``/``queries`` read the Parquet dataset with DuckDB into
``facts``; ``holes`` and ``grade`` are pure rules over those facts; ``build``
joins them; ``plots`` draws the figures with matplotlib (only needed for HTML).
"""

from __future__ import annotations

from collector.quality.build import build_report
from collector.quality.model import Hole, Report, to_json_dict

__all__ = ["Hole", "Report", "build_report", "to_json_dict"]
