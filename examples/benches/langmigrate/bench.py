"""Helpers for run.sh: generate LangGraph checkpoints at release 1, run
langmigrate's batch upgrade on them, and check the upgraded shape.

The checkpoints are written in the exact shape LangGraph's own savers write:
one checkpoint is `put` through the saver and read back as a template, then
N are bulk-inserted from it (a `put` per row through the saver would take
minutes and write the same bytes). The agent state's fields are LangGraph
channels with primitive values, which `PostgresSaver` keeps inline in
`checkpoint -> 'channel_values'` (no `checkpoint_blobs` rows) and
`SqliteSaver` keeps inside the MessagePack `checkpoint` blob.

Usage:
  bench.py gen-postgres URL N
  bench.py gen-sqlite PATH N
  bench.py upgrade-sqlite PATH MIGRATIONS_DIR   (langmigrate's batch runner)
"""

from __future__ import annotations

import json
import sys
import time

THREAD_SIZE = 5  # checkpoints per thread, chained by parent_checkpoint_id
CITIES = ["Tokyo", "Lisbon", "Oslo", "Lima", "Quito", "Hanoi", "Dakar", "Perth"]


def state(i: int) -> dict:
    """The release-1 agent state of checkpoint i (no version tag anywhere)."""
    city = CITIES[i % len(CITIES)]
    return {
        "destination": city,
        "travelers": i % 4 + 1,
        "budget": f"{1000 + i % 997}.50",
        "summary": f"Checkpoint {i}: the user plans a trip to {city}, asked for dates, "
        "a budget range and hotels near the centre; the assistant proposed three options.",
    }


def checkpoint_id(i: int) -> str:
    return f"1ef00000-0000-6000-8000-{i:012x}"


def rows(n: int, template: dict):
    """(thread_id, ns, checkpoint_id, parent_id, checkpoint dict, metadata dict)."""
    for i in range(n):
        thread, step = divmod(i, THREAD_SIZE)
        ck = dict(template)
        ck["id"] = checkpoint_id(i)
        ck["channel_values"] = state(i)
        ck["channel_versions"] = {ch: template["channel_versions"]["budget"] for ch in state(i)}
        parent = checkpoint_id(i - 1) if step > 0 else None
        meta = {"source": "loop", "step": step, "parents": {}}
        yield f"thread-{thread:06d}", "", ck["id"], parent, ck, meta


def template_checkpoint(saver) -> dict:
    """Put one checkpoint through the saver and return the stored checkpoint."""
    from langgraph.checkpoint.base import empty_checkpoint

    ck = empty_checkpoint()
    ck["id"] = checkpoint_id(0)
    ck["channel_values"] = state(0)
    versions = {ch: saver.get_next_version(None, None) for ch in state(0)}
    ck["channel_versions"] = versions
    config = {"configurable": {"thread_id": "template", "checkpoint_ns": ""}}
    saver.put(config, ck, {"source": "loop", "step": 0, "parents": {}}, versions)
    tup = saver.get_tuple({"configurable": {"thread_id": "template", "checkpoint_ns": ""}})
    return tup.checkpoint


def gen_postgres(url: str, n: int) -> None:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row

    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        saver = PostgresSaver(conn)
        saver.setup()
        template = template_checkpoint(saver)
        stored = conn.execute("SELECT checkpoint FROM checkpoints WHERE thread_id = 'template'").fetchone()
        assert set(stored["checkpoint"]["channel_values"]) == set(state(0)), (
            "PostgresSaver did not keep the primitive channels inline",
            stored,
        )
        assert conn.execute("SELECT count(*) AS c FROM checkpoint_blobs").fetchone()["c"] == 0
        conn.execute("DELETE FROM checkpoints WHERE thread_id = 'template'")
        with conn.cursor() as cur:
            with cur.copy(
                "COPY checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, "
                "checkpoint, metadata) FROM STDIN"
            ) as copy:
                for thread, ns, cid, parent, ck, meta in rows(n, template):
                    copy.write_row((thread, ns, cid, parent, json.dumps(ck), json.dumps(meta)))
        conn.execute("VACUUM ANALYZE checkpoints")


def gen_sqlite(path: str, n: int) -> None:
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(path, check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    template = template_checkpoint(saver)
    conn.execute("DELETE FROM checkpoints WHERE thread_id = 'template'")
    conn.executemany(
        "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, "
        "type, checkpoint, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            (thread, ns, cid, parent, *saver.serde.dumps_typed(ck), json.dumps(meta).encode())
            for thread, ns, cid, parent, ck, meta in rows(n, template)
        ),
    )
    conn.commit()
    conn.close()


class SqliteAdapter:
    """langmigrate's CheckpointAdapter protocol over LangGraph's SqliteSaver.

    langmigrate 1.3.0 ships adapters for PostgreSQL and Redis only, and its
    command line builds one of those two from the URL. This is the SQLite
    twin of its PostgresAdapter: the same stale predicate on the metadata
    (here `json_extract` on the JSON metadata blob), the same keyset
    pagination in pages of 500; reads and writes go through the saver.
    """

    PAGE = 500

    def __init__(self, conn, saver) -> None:
        self._conn = conn
        self._saver = saver

    @property
    def saver(self):
        return self._saver

    def count_stale(self, head: str) -> int:
        return self._conn.execute(
            "SELECT count(*) FROM checkpoints "
            "WHERE json_extract(CAST(metadata AS TEXT), '$.langmigrate_rev') IS NOT ?",
            (head,),
        ).fetchone()[0]

    def iter_stale_configs(self, head: str):
        last = None
        while True:
            sql = (
                "SELECT thread_id, checkpoint_ns, checkpoint_id FROM checkpoints "
                "WHERE json_extract(CAST(metadata AS TEXT), '$.langmigrate_rev') IS NOT ?"
            )
            params: list = [head]
            if last is not None:
                sql += " AND (thread_id, checkpoint_ns, checkpoint_id) > (?, ?, ?)"
                params.extend(last)
            sql += " ORDER BY thread_id, checkpoint_ns, checkpoint_id LIMIT ?"
            page = self._conn.execute(sql, (*params, self.PAGE)).fetchall()
            for thread_id, ns, cid in page:
                yield {
                    "configurable": {
                        "thread_id": thread_id,
                        "checkpoint_ns": ns,
                        "checkpoint_id": cid,
                    }
                }
            if len(page) < self.PAGE:
                return
            last = page[-1]


def upgrade_sqlite(path: str, migrations: str) -> None:
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver
    from langmigrate import MigrationEngine, MigrationRegistry
    from langmigrate.runtime.batch import run_batch_upgrade

    start = time.perf_counter()
    conn = sqlite3.connect(path, check_same_thread=False)  # as SqliteSaver.from_conn_string
    saver = SqliteSaver(conn)
    saver.setup()
    engine = MigrationEngine(MigrationRegistry.from_path(migrations))
    result = run_batch_upgrade(SqliteAdapter(conn, saver), engine)
    conn.close()
    print(result, f"in {time.perf_counter() - start:.3f} s", file=sys.stderr)


def read_back(kind: str, where: str) -> None:
    """What LangGraph's own saver returns for the first checkpoint."""
    config = {"configurable": {"thread_id": "thread-000000", "checkpoint_ns": ""}}
    if kind == "postgres":
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row

        with psycopg.connect(where, autocommit=True, row_factory=dict_row) as conn:
            tup = PostgresSaver(conn).get_tuple(config)
    else:
        import sqlite3

        from langgraph.checkpoint.sqlite import SqliteSaver

        tup = SqliteSaver(sqlite3.connect(where, check_same_thread=False)).get_tuple(config)
    print("  saver.get_tuple -> channel_values", tup.checkpoint["channel_values"], file=sys.stderr)


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "gen-postgres":
        gen_postgres(args[0], int(args[1]))
    elif command == "gen-sqlite":
        gen_sqlite(args[0], int(args[1]))
    elif command == "upgrade-sqlite":
        upgrade_sqlite(args[0], args[1])
    elif command == "read-back":
        read_back(args[0], args[1])
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
