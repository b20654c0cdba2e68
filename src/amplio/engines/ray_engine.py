"""The Ray engine of ``amplio embed``: the encoder as a Ray Data ``map_batches`` over a cluster.

Each actor loads the encoder once (``_EncodeBatch.__init__``) and embeds the batches it is given;
texts go out sorted by length, so batches pad to similar lengths as in the local path, and come
back by position. Every node of the cluster needs Amplio (and the encoder's model) installed.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from amplio.engines.naming import EncoderSpec
from amplio.errors import AmplioError, BackendError, MissingDependencyError
from amplio.progress import Progress

_RAISED = re.compile(r"amplio\.errors\.(\w+): ([^\n]+)")
BLOCK_BATCHES = 4  # encoder batches per Ray block: enough blocks to spread over the actors


class _EncodeBatch:
    """A Ray Data callable class: one encoder per actor, loaded when the actor starts."""

    def __init__(self, kind: str, model: str, batch_size: int) -> None:
        from amplio.embedding.registry import create_encoder

        self.encoder = create_encoder(kind, model)
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.encoder.encode([str(t) for t in batch["text"]], batch_size=self.batch_size)
        n = len(vectors)
        # The actor's CPU seconds so far (start-up and model load included), for the job's cost.
        return {"pos": batch["pos"], "vector": np.asarray(vectors, dtype=np.float32),
                "encoder": np.array([self.encoder.name] * n), "pid": np.full(n, os.getpid()),
                "cpu": np.full(n, time.process_time())}


def embed_on_ray(texts: Sequence[str], spec: EncoderSpec, *, address: str | None,
                 concurrency: int | None, batch_size: int,
                 progress: Progress) -> tuple[str, NDArray[np.float32], float, float]:
    """Embed ``texts`` on the Ray cluster at ``address`` (else a local one started for the job
    and stopped after it); returns the encoder's name, the vectors in input order, the seconds
    spent starting or joining the cluster and the CPU seconds of the encoder actors."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise MissingDependencyError("the ray engine needs Ray Data (pip install 'amplio[ray]', "
                                     "or pip install 'ray[data]')") from None
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # its INFO lines are per dataset
    start = time.perf_counter()
    started = _connect(ray, address)
    start_s = time.perf_counter() - start
    try:
        n = len(texts)
        progress("embed", 0, n)
        if n == 0:
            return spec.model, np.zeros((0, 0), dtype=np.float32), start_s, 0.0
        try:
            if _through_client(ray, address):
                # Through Ray Client the driver has no core worker, which Ray Data's executor
                # needs: the pipeline runs as a task inside the cluster instead (no CPU of its
                # own, so the actors get them all).
                remote = ray.remote(num_cpus=0)(_pipeline)
                name, out, actor_cpu = ray.get(remote.remote(list(texts), spec.kind, spec.model,
                                                             batch_size, concurrency, None))
            else:
                name, out, actor_cpu = _pipeline(texts, spec.kind, spec.model, batch_size,
                                                 concurrency, progress)
        except Exception as exc:  # Ray wraps what the actors raised
            raise _domain_error(exc) from None
        progress("embed", n, n)
        return name, out, start_s, actor_cpu
    finally:
        if started:
            ray.shutdown()


def _pipeline(texts: Sequence[str], kind: str, model: str, batch_size: int, concurrency: int | None,
              progress: Progress | None) -> tuple[str, NDArray[np.float32], float]:
    """The Ray Data job: texts sorted by length, ``map_batches`` over encoder actors, vectors put
    back in input order. Returns the encoder's name, the vectors and the actors' CPU seconds."""
    import ray
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = progress is not None and sys.stderr.isatty()
    n = len(texts)
    actors = concurrency or max(1, int(ray.cluster_resources().get("CPU", 1)))
    order = np.argsort([-len(t) for t in texts], kind="stable")
    block = batch_size * BLOCK_BATCHES
    blocks = [pd.DataFrame({"pos": order[i: i + block], "text": [texts[j] for j in order[i: i + block]]})
              for i in range(0, n, block)]
    embedded = ray.data.from_pandas(blocks).map_batches(
        _EncodeBatch, fn_constructor_args=(kind, model, batch_size), batch_size=batch_size,
        batch_format="numpy", num_cpus=1, compute=ray.data.ActorPoolStrategy(size=min(actors, len(blocks))))
    out: NDArray[np.float32] | None = None
    names: set[str] = set()
    actor_cpu: dict[int, float] = {}
    done = 0
    for batch in embedded.iter_batches(batch_format="numpy", batch_size=None):
        vectors = np.asarray(batch["vector"], dtype=np.float32)
        if out is None:
            out = np.zeros((n, vectors.shape[1]), dtype=np.float32)
        out[np.asarray(batch["pos"], dtype=np.int64)] = vectors
        names.update(str(name) for name in batch["encoder"])
        for pid, cpu in zip(batch["pid"], batch["cpu"], strict=True):
            actor_cpu[int(pid)] = max(actor_cpu.get(int(pid), 0.0), float(cpu))
        done += len(vectors)
        if progress is not None:
            progress("embed", min(done, n), n)
    if out is None or done != n or len(names) != 1:
        raise BackendError(f"the Ray job returned {done:,} of {n:,} vectors from encoders "
                           f"{sorted(names)}; run it again")
    return names.pop(), out, sum(actor_cpu.values())


def _through_client(ray: Any, address: str | None) -> bool:
    """Whether this process reaches the cluster through Ray Client (``ray://``)."""
    if address and address.startswith("ray://"):
        return True
    try:
        return bool(ray.util.client.ray.is_connected())
    except Exception:  # no Ray Client installed: not connected through it
        return False


def _connect(ray: Any, address: str | None) -> bool:
    """Join the cluster at ``address`` (or the one this process joined already); with none,
    start a local one. Returns whether this call started or joined it (and should leave)."""
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(address="local", include_dashboard=False, **options)  # a new one, always
    except MissingDependencyError:
        raise
    except ImportError as exc:
        raise MissingDependencyError(f"connecting to {address} needs Ray Client (pip install "
                                     f"'ray[client]'): {exc}") from None
    except Exception as exc:  # ConnectionError, TimeoutError, RuntimeError, ...
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        hint = ("start one with `ray start --head` (Ray Client listens on port 10001) or leave out "
                "the address to start a local one" if address else "check `ray status`")
        raise BackendError(f"cannot connect to {where}: {_first_line(exc)}; {hint}",
                           field="address" if address else None) from None
    return True


def _domain_error(exc: BaseException) -> Exception:
    """The Amplio error an actor raised (a model that will not load, say), else a BackendError."""
    if isinstance(exc, AmplioError) and type(exc).__module__ == "amplio.errors":
        return exc  # raised here, not wrapped by Ray
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        cause = getattr(current, "cause", None)
        if isinstance(cause, AmplioError):
            return type(cause)(str(cause).splitlines()[0], field=cause.field)
        current = current.__cause__ or (cause if isinstance(cause, BaseException) else None)
    # An actor that died in __init__ carries its cause only as text (ActorDiedError).
    found = _RAISED.findall(str(exc))
    if found:
        from amplio import errors

        name, message = found[-1]
        kind = getattr(errors, name, None)
        if isinstance(kind, type) and issubclass(kind, AmplioError):
            return kind(message.strip())
    return BackendError(f"the Ray job failed: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
