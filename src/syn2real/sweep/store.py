"""The results store: one SQLite file next to the outputs, one row per finished job.

A row is written only after the job's artefacts are in place (they appear atomically), and
writes are idempotent: recording the same key twice keeps one row (a success replaces an
earlier failure, never the other way round).

Who writes: the study's driver only (cluster jobs return their results to it; no compute
node opens the store). Readers (``syn2real status``, ``export``, ``fit``) may run anywhere.
On a local disk the store is in WAL mode: readers see a consistent snapshot while the driver
writes. WAL needs memory shared between the processes of one host, so on a network file
system (NFS, Lustre, GPFS, BeeGFS, CephFS, SMB: :data:`NETWORK_FS`, from ``/proc/mounts``)
the store uses SQLite's rollback journal instead (``journal_mode=DELETE``), whose
``fcntl`` locks let a reader on a login node read while the driver on another host writes;
a reader waits out a write in progress (up to 60 s) instead of reading half of it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import UserError

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    key       TEXT PRIMARY KEY,
    kind      TEXT NOT NULL,
    status    TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    label     TEXT,
    params    TEXT NOT NULL,
    result    TEXT,
    error     TEXT,
    seconds   REAL,
    units     REAL,
    finished  REAL NOT NULL,
    attempts  INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS jobs_kind ON jobs(kind, status);
CREATE TABLE IF NOT EXISTS submissions (
    key       TEXT PRIMARY KEY,
    backend   TEXT NOT NULL,
    job_id    TEXT NOT NULL,
    folder    TEXT NOT NULL,
    submitted REAL NOT NULL
);
"""


#: File systems on which WAL is unsafe across hosts (``/proc/mounts`` type names).
NETWORK_FS = ("nfs", "nfs4", "lustre", "gpfs", "beegfs", "ceph", "cifs", "smb3", "smbfs",
              "fuse.sshfs", "fuse.glusterfs", "glusterfs", "9p", "afs", "panfs", "wekafs")


def mount_type(path: str | Path) -> str | None:
    """The file-system type of the mount holding ``path`` (``/proc/mounts``; None where it
    cannot be told)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    target = os.path.realpath(path)
    best, kind = "", None
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, parts[2]
    return kind


class StoreError(UserError):
    """The results store cannot be read or written (corrupt file, full disk)."""


class Store:
    """SQLite results store of one run folder (``RUN_DIR/results.sqlite``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a folder, not a results store. Fix: give the "
                             "run folder, or move the folder aside")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for p in (self.path, self.path.parent):
            if p.exists() and not os.access(p, os.W_OK):
                raise self._error(OSError(f"{p} is read-only"))
        fs = mount_type(self.path.parent)
        #: SQLite journal mode: WAL on a local disk, the rollback journal on network storage
        self.journal = "DELETE" if fs in NETWORK_FS else "WAL"
        with self._connect() as con:
            con.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            con = sqlite3.connect(self.path, timeout=60)
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            try:
                con.execute(f"PRAGMA journal_mode={self.journal}")
            except sqlite3.OperationalError as exc:
                # leaving WAL needs the file to itself: another connection is open, so
                # this one keeps the mode the file has and a later one switches it
                if "locked" not in str(exc):
                    raise
            con.execute("PRAGMA synchronous=FULL")
            with con:  # one transaction
                yield con
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None
        finally:
            con.close()

    def _error(self, exc: Exception) -> StoreError:
        text = str(exc)
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            return StoreError(f"{self.path}: the results store cannot be written here "
                              f"({text}): the file or {self.path.parent} is read-only (or "
                              "not yours). Its results are intact: do not move it aside. "
                              "Fix: run in a copy you can write (copy the run folder, give "
                              "--out the copy), or read its results as they are with "
                              f"syn2real fit {self.path.parent / 'results.csv'}")
        if "locked" in text:
            return StoreError(f"{self.path}: the results store is busy: another process has "
                              f"held it for over a minute ({text}). Its results are intact. "
                              "Fix: wait for that process (another syn2real command on this "
                              "run folder) and run the same command again")
        if "full" in text or "disk I/O" in text:
            return StoreError(f"{self.path}: cannot write the results store ({text}): no "
                              f"space left on {self.path.parent}? Fix: free space and run the "
                              "same command again; finished jobs are kept")
        return StoreError(f"{self.path}: not a readable results store ({text}). Fix: move it "
                          "aside (e.g. to results.sqlite.bad) and run the study again: "
                          "rendered shards are reused after a checksum check, the training "
                          "jobs run again")

    def record(self, key: str, kind: str, params: dict[str, Any], *, result: Any = None,
               error: str | None = None, seconds: float | None = None,
               units: float | None = None, label: str = "", replace: bool = False) -> None:
        """Record a finished job (``error`` set: failed). Idempotent per key: a success
        replaces an earlier failure, never the other way round; ``replace`` (a rerun asked
        for, or of a job whose artefact went bad) replaces a success too."""
        status = "failed" if error is not None else "done"
        row = (key, kind, status, label, json.dumps(params, sort_keys=True, default=str),
               None if result is None else json.dumps(result, default=str), error, seconds,
               units, time.time())
        with self._connect() as con:
            con.execute(
                """INSERT INTO jobs (key, kind, status, label, params, result, error, seconds,
                                     units, finished)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(key) DO UPDATE SET
                     status = excluded.status, label = excluded.label,
                     params = excluded.params, result = excluded.result,
                     error = excluded.error, seconds = excluded.seconds,
                     units = excluded.units, finished = excluded.finished,
                     attempts = jobs.attempts + 1
                   WHERE jobs.status = 'failed' OR ?""", (*row, bool(replace)))

    def status(self) -> dict[str, str]:
        """``{key: "done" | "failed"}`` of every recorded job."""
        with self._connect() as con:
            return dict(con.execute("SELECT key, status FROM jobs").fetchall())

    def rows(self, kind: str | None = None, status: str | None = "done") -> list[dict[str, Any]]:
        """Recorded jobs as dicts (``params`` and ``result`` decoded)."""
        q, args = "SELECT * FROM jobs WHERE 1=1", []
        if kind:
            q += " AND kind = ?"
            args.append(kind)
        if status:
            q += " AND status = ?"
            args.append(status)
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            out = []
            for r in con.execute(q + " ORDER BY finished", args):
                d = dict(r)
                d["params"] = json.loads(d["params"])
                d["result"] = None if d["result"] is None else json.loads(d["result"])
                out.append(d)
        return out

    def record_submissions(self, backend: str, subs: list[tuple[str, str, str]]) -> None:
        """Remember that each ``(key, job_id, folder)`` was submitted as a cluster job (one
        transaction), so a restarted driver reattaches to it instead of submitting again."""
        now = time.time()
        with self._connect() as con:
            con.executemany("INSERT OR REPLACE INTO submissions VALUES (?, ?, ?, ?, ?)",
                            [(k, backend, j, f, now) for k, j, f in subs])

    def submissions(self, backend: str) -> dict[str, tuple[str, str]]:
        """``{key: (job_id, folder)}`` of the jobs submitted to ``backend``."""
        with self._connect() as con:
            rows = con.execute("SELECT key, job_id, folder FROM submissions WHERE backend = ?",
                               (backend,)).fetchall()
        return {k: (j, f) for k, j, f in rows}

    def seconds_per_unit(self) -> dict[str, float]:
        """Measured seconds per work unit and kind (for cost estimates)."""
        with self._connect() as con:
            rows = con.execute("SELECT kind, SUM(seconds), SUM(units) FROM jobs WHERE "
                               "status = 'done' AND units > 0 GROUP BY kind").fetchall()
        return {k: s / u for k, s, u in rows if s and u}
