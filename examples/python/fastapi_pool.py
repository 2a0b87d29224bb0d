"""FastAPI #3205: sync `yield` dependencies, a SQLAlchemy QueuePool and the thread pool.

The FastAPI tutorial's database dependency, ``def get_db(): db = SessionLocal(); try:
yield db; finally: db.close()``, with ``def`` endpoints. The session checks a
connection out of the pool on its first query (in the endpoint, on a worker thread
that holds one of the 40 tokens of anyio's default limiter) and gives it back in the
dependency's exit. Everything runs for real: FastAPI 0.92, Starlette 0.26.1, anyio's
worker threads, SQLAlchemy 1.4's QueuePool on in-memory SQLite.

* ``app``: FastAPI 0.92 runs the sync dependency's exit under a one-token limiter of its
  own (PR #5122, 0.82.0): a burst of requests passes.
* ``app_before_0_82``: the same dependency, its exit run through ``run_in_threadpool``
  (the shared 40 tokens) as FastAPI did before 0.82: under a burst, 40 endpoint threads
  hold every token while they wait for a connection, and the requests holding the
  connections wait for a token to give them back. ``pool_timeout=None``: a deadlock;
  ``app_before_0_82_timeout`` keeps SQLAlchemy's default 30 s: a 30 s stall, then 500s.

  python3 -m asgisim run --app fastapi_pool:app_before_0_82 --scenario fastapi_pool:burst --seeds 20
"""

import time
from contextlib import contextmanager

from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from asgisim import NEVER, Request

POOL_SIZE = 5
QUERY_S = 0.005  # how long a query holds its connection (virtual time)


def make_app(pool_timeout, exit_on_shared_pool: bool) -> FastAPI:
    engine = create_engine("sqlite://", poolclass=QueuePool, pool_size=POOL_SIZE, max_overflow=0,
                           pool_timeout=pool_timeout, connect_args={"check_same_thread": False})
    session_local = sessionmaker(bind=engine)

    def get_db():
        db = session_local()
        try:
            yield db
        finally:
            db.close()

    async def get_db_before_0_82():
        # What FastAPI before 0.82 did with `get_db`: enter and exit through
        # run_in_threadpool, both on the shared limiter.
        manager = contextmanager(get_db)()
        db = await run_in_threadpool(manager.__enter__)
        try:
            yield db
        finally:
            await run_in_threadpool(manager.__exit__, None, None, None)

    app = FastAPI()
    dependency = get_db_before_0_82 if exit_on_shared_pool else get_db

    @app.get("/items")
    def read_items(db: Session = Depends(dependency)):
        value = db.execute(text("SELECT 1")).scalar()
        time.sleep(QUERY_S)
        return {"value": value}

    app.state.engine = engine
    return app


app = make_app(pool_timeout=None, exit_on_shared_pool=False)
app_before_0_82 = make_app(pool_timeout=None, exit_on_shared_pool=True)
app_before_0_82_timeout = make_app(pool_timeout=30, exit_on_shared_pool=True)


def burst(s):
    """A burst of concurrent clients (how many and how they arrive: chosen), one request each."""
    clients = 41 + s.choose("burst.clients", 40)
    for _ in range(clients):
        s.client(Request("GET", "/items", read_pause=0, disconnect=NEVER), pauses=(0.0, 0.0, 0.001))
    s.latency_budget = 5.0
    s.check("response-complete")
