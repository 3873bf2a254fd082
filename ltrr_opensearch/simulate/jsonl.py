"""Writing rows as JSON Lines, streamed, with errors a user can act on."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ltrr_opensearch.errors import LtrrError
from ltrr_opensearch.progress import Progress


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]], *, label: str = "writing",
                total: int | None = None, quiet: bool = False) -> int:
    """Write one JSON object per line (UTF-8) and return how many were written.

    The file is written under a temporary name and renamed at the end, so an interrupted run
    never leaves a truncated file that looks complete.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    count = 0
    try:
        with open(tmp, "w", encoding="utf-8") as out, \
                Progress(label, total=total, quiet=quiet) as bar:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False))
                out.write("\n")
                count += 1
                bar.advance()
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise LtrrError(f"cannot write {str(path)!r}: {exc.strerror or exc}",
                        hint="check that the folder exists and is writable") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count
