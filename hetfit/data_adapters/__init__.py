"""hetfit.data_adapters: from databases, spreadsheets and recordings to one per-cell table.

- :class:`CellTable` (``celltable``): one row per cell, ids + labels + canonical features,
  schema-validated, with a report of rows read/kept/dropped.
- ``read_table`` / ``from_frame`` (``tables``): any CSV/TSV/Parquet/Excel table through a
  column mapping with units.
- ``read_allen_specimens`` / ``read_allen_cache`` / ``read_allen_ephys_features`` /
  ``read_allen`` (``allen``): the Allen Cell Types Database, with or without allensdk.
- ``load_dataset`` and one loader per public table (``datasets``).
- :class:`Recording` / ``read_recording`` (``activity``): recorded spike trains from NWB
  Units, CSV, neo and MEA HDF5 files.
- ``schema``: canonical feature names, units and plausible ranges.

Names are resolved lazily (PEP 562) so importing this package stays cheap.
"""

from __future__ import annotations

from hetfit._lazy import lazy_exports

_EXPORTS = {
    "CellTable": "celltable",
    "CellGroups": "celltable",
    "TableReport": "celltable",
    "read_table": "tables",
    "read_raw": "tables",
    "from_frame": "tables",
    "excel_sheets": "tables",
    "load_mapping": "tables",
    "read_mapped": "tables",
    "read_allen": "allen",
    "read_allen_specimens": "allen",
    "read_allen_cache": "allen",
    "read_allen_ephys_features": "allen",
    "allen_table": "allen",
    "DATASETS": "datasets",
    "load_dataset": "datasets",
    "link_donors": "datasets",
    "Recording": "activity",
    "read_recording": "activity",
    "FEATURES": "schema",
    "ID_COLUMNS": "schema",
    "LABEL_COLUMNS": "schema",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
