"""The scenario API: which requests go to the app, and which of their parts vary.

A scenario is a plain Python function that receives a ``Scenario`` builder::

    from asgisim import Request

    def uploads(s):
        s.client(Request("POST", "/upload", body=b"x" * 1000))   # chunking, pauses, disconnect: chosen
        s.client(Request("GET", "/"), Request("GET", "/"))       # two requests on one keep-alive connection

Every part a request leaves unset (``chunks``, ``chunk_pause``, ``read_pause``,
``disconnect``) is chosen per run from the choice stream, so the simulator, not the
author, finds the failing combination. Fix a part to stop it varying.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

NS_PER_S = 1_000_000_000

# Where a client may leave (the uvicorn model's DisconnectPoint names).
DISCONNECT_POINTS = ("never", "before_sending", "mid_body", "after_start", "after_body_chunks",
                     "after_complete", "after_delay")

# The invariants a real app is checked against by default.
PROTOCOL_IDS = ("start-once", "body-after-start", "content-length", "head-no-body",
                "no-send-after-disconnect", "disconnect-sticky", "receive-order")
DEFAULT_INVARIANTS = PROTOCOL_IDS + ("background-complete", "no-deadlock", "liveness", "request-latency")


def _bytes(value: Union[str, bytes]) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def _ns(seconds: Optional[float]) -> Optional[int]:
    return None if seconds is None else int(round(seconds * NS_PER_S))


@dataclass
class Disconnect:
    """Where the client leaves: a DISCONNECT_POINTS name, after ``count`` chunks, or ``delay`` seconds."""
    point: str = "never"
    count: int = 0
    delay: float = 0.0

    def to_plan(self) -> Dict[str, Any]:
        if self.point not in DISCONNECT_POINTS:
            raise ValueError(f"disconnect point {self.point!r}: expected one of {', '.join(DISCONNECT_POINTS)}")
        return {"point": self.point, "count": int(self.count), "delay_ns": _ns(self.delay)}


NEVER = Disconnect("never")


@dataclass
class Request:
    """One request. Unset optional parts are chosen per run."""
    method: str = "GET"
    path: str = "/"
    body: Union[str, bytes] = b""
    headers: Sequence[Tuple[Union[str, bytes], Union[str, bytes]]] = ()
    query: Union[str, bytes] = b""
    chunks: Optional[Sequence[Union[str, bytes]]] = None  # exact chunks (else chosen split of body)
    chunk_pause: Optional[float] = None  # seconds between chunks (else chosen)
    read_pause: Optional[float] = None  # seconds before each response read (else chosen)
    disconnect: Optional[Disconnect] = None  # None: chosen (sometimes, anywhere)

    def to_plan(self) -> Dict[str, Any]:
        return {
            "method": self.method.upper(), "path": self.path, "query": _bytes(self.query),
            "headers": [(_bytes(n).lower(), _bytes(v)) for n, v in self.headers],
            "body": _bytes(self.body),
            "chunks": None if self.chunks is None else [_bytes(c) for c in self.chunks],
            "chunk_pause_ns": _ns(self.chunk_pause), "read_pause_ns": _ns(self.read_pause),
            "disconnect": None if self.disconnect is None else self.disconnect.to_plan(),
        }


@dataclass
class Scenario:
    """What one run sends; built afresh for every run by the scenario function."""
    clients: List[Dict[str, Any]] = field(default_factory=list)
    latency_budget: float = 30.0  # seconds of virtual time (request-latency)
    spec_version: str = "2.3"  # what the server advertises
    keep_alive: bool = True
    send_after_disconnect_raises: bool = False  # uvicorn 0.28.0's behaviour
    extra_invariants: List[str] = field(default_factory=list)
    threads_bound: Optional[int] = None  # threads-bounded: most Python threads alive at once
    thread_memory: Optional[int] = None  # memory-budget: bytes each Python thread retains
    memory_budget: Optional[int] = None  # memory-budget: bytes the threads may retain together
    _run: Any = None

    def check(self, *invariant_ids: str) -> None:
        """Also check these invariant ids (e.g. "response-not-delayed", "response-complete")."""
        self.extra_invariants.extend(i for i in invariant_ids if i not in self.extra_invariants)

    def client(self, *requests: Request, disconnect_one_in: int = 4, chunks_max: int = 4,
               pauses: Sequence[float] = (0.0, 0.001, 0.01)) -> None:
        """A client that sends ``requests`` in order on one keep-alive connection.

        A request whose disconnect is unset leaves early with chance 1/disconnect_one_in
        (0: never); a chosen body split has at most ``chunks_max`` chunks; chosen
        pauses are one of ``pauses`` (seconds).
        """
        if not requests:
            raise ValueError("a client needs at least one request")
        self.clients.append({
            "requests": [r.to_plan() for r in requests], "disconnect_one_in": int(disconnect_one_in),
            "chunks_max": int(chunks_max), "pause_choices_ns": [_ns(p) for p in pauses]})

    def choose(self, label: str, n: int) -> int:
        """A value in [0, n) from the run's choice stream (replayed and shrunk like the rest)."""
        return self._run.choose(label, n) if n > 1 else 0

    def server_plan(self) -> Dict[str, Any]:
        return {"spec_version": self.spec_version, "keep_alive": self.keep_alive,
                "send_after_disconnect_raises": self.send_after_disconnect_raises}


def from_data(data: Dict[str, Any]) -> "callable":
    """A scenario function from the data-file form (JSON)::

        {"clients": [[{"method": "POST", "path": "/", "body": "hello"}],
                     [{"path": "/items", "disconnect": "never"}]],
         "latency_budget": 5}
    """
    def disconnect_of(value: Any) -> Optional[Disconnect]:
        if value is None:
            return None
        if isinstance(value, str):
            return Disconnect(value)
        return Disconnect(**value)

    def build(s: Scenario) -> None:
        for client in data.get("clients", []):
            requests = [Request(**{**r, "disconnect": disconnect_of(r.get("disconnect"))}) for r in client]
            s.client(*requests)
        if "latency_budget" in data:
            s.latency_budget = float(data["latency_budget"])
    return build


def load_data_file(path: str):
    with open(path, encoding="utf-8") as f:
        return from_data(json.load(f))
