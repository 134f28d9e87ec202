"""Which versions of which models are served, and their lifecycle states.

TF Serving's model management, for the models of a ``--model_config_file``
(or the one ``--model_name`` / ``--model_base_path``):

* versions are the all-digit directories under a model's base path
  (``00000123`` is version 123), complete once they hold ``saved_model.pb``;
* each model's ``model_version_policy`` (latest N, all, specific) picks the
  versions to serve; a new version is loaded and warmed up before the one it
  replaces is unloaded, and an unloaded version finishes the requests that
  were using it first;
* states are TF Serving's: START, LOADING, AVAILABLE, UNLOADING, END; a
  version that failed to load is END with its error, as GetModelStatus and
  the REST status show;
* ``version_labels`` name versions (``stable`` -> 12); only AVAILABLE
  versions can be asked for by label;
* the base paths are polled every ``poll_seconds`` (0: once at start).

Two things differ from TF Serving, on purpose: a version that failed to load
is retried when its files change, and, under the latest-N policy, a broken
newest version does not leave the model without a version: the newest
versions that do load are served instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from serving.config_files import BatchingParameters, ModelConfig
from serving.errors import invalid_argument, not_found, status_code
from serving.servable import Servable

logger = logging.getLogger("serving")

WarmUp = Callable[[Servable], int]

# What a version's files look like: (relative path, size, mtime) of each file.
Fingerprint = tuple[tuple[str, int, int], ...]


@dataclass
class VersionStatus:
    """One version's state, as ``GetModelStatus`` reports it.

    Attributes:
        state: START, LOADING, AVAILABLE, UNLOADING or END.
        error_code: a ``grpc.StatusCode`` name; OK unless loading failed.
        error_message: the load error, if any.
    """

    version: int
    state: str
    error_code: str = "OK"
    error_message: str = ""


def is_version_name(name: str) -> bool:
    """All ASCII digits (``str.isdigit`` also takes ``²``, which int() refuses)."""
    return name.isascii() and name.isdigit()


def version_directories(base_path: Path) -> dict[int, Path]:
    """Complete versions under ``base_path``: number -> directory.

    Any all-digit name counts (``00000123`` is 123) that holds a
    ``saved_model.pb``; hidden temporary directories of an export in
    progress, and the kit files beside the versions, do not.
    """
    if not base_path.is_dir():
        return {}
    versions = {}
    for child in base_path.iterdir():
        if is_version_name(child.name) and (child / "saved_model.pb").is_file():
            number = int(child.name)
            if number < 2**63:  # TF Serving's versions are int64
                versions[number] = child
    return versions


def fingerprint(path: Path) -> Fingerprint:
    """Sizes and mtimes of every file under ``path`` (to notice rewrites)."""
    entries = []
    for file in sorted(path.rglob("*")):
        if file.is_file():
            stat = file.stat()
            entries.append(
                (str(file.relative_to(path)), stat.st_size, stat.st_mtime_ns)
            )
    return tuple(entries)


@dataclass
class _Failure:
    """A version that failed to load, and the files it failed with."""

    fingerprint: Fingerprint
    code: str
    message: str


class _Model:
    """The served versions of one model and their states."""

    def __init__(self, config: ModelConfig):
        self.config = config
        self.available: dict[int, Servable] = {}
        self.states: dict[int, str] = {}
        self.failures: dict[int, _Failure] = {}


class ModelManager:
    """Loads, serves and unloads the versions of the configured models.

    Args:
        configs: the models (``serving.config_files.ModelConfig``).
        poll_seconds: how often to look for new versions; 0 looks once.
        batching: batching parameters for every servable, or None.
        warm_up: replays a new servable's warmup requests; returns how many.
        on_load: told (version path, "success" | "fail") after each load
            attempt (the load metrics).
    """

    def __init__(
        self,
        configs: list[ModelConfig],
        poll_seconds: float = 1.0,
        batching: BatchingParameters | None = None,
        warm_up: WarmUp | None = None,
        on_load: Callable[[str, str], None] | None = None,
    ):
        self.poll_seconds = poll_seconds
        self.batching = batching
        self.warm_up = warm_up
        self.on_load = on_load
        self._models = {config.name: _Model(config) for config in configs}
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    @property
    def model_names(self) -> list[str]:
        return sorted(self._models)

    def start(self) -> None:
        """Loads what the policies ask for, then polls for changes."""
        self.refresh()
        if self.poll_seconds > 0:
            self._poller = threading.Thread(
                target=self._poll, name="version-poller", daemon=True
            )
            self._poller.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception:  # a broken file system must not stop polling
                logger.exception("Polling the model base paths failed")

    def stop(self) -> None:
        """Stops polling, then unloads every version (requests finish first)."""
        self._stop.set()
        if self._poller is not None:
            self._poller.join()
        with self._refresh_lock:
            for model in self._models.values():
                for version in sorted(model.available):
                    self._unload(model, version)

    def refresh(self) -> None:
        """One pass over every model: load wanted versions, unload the rest."""
        with self._refresh_lock:
            for model in self._models.values():
                self._refresh_model(model)

    def _loadable(self, model: _Model, found: dict[int, Path]) -> list[int]:
        """Found versions except failed ones whose files are unchanged."""
        loadable = []
        for version, path in found.items():
            failure = model.failures.get(version)
            if failure is not None and failure.fingerprint == fingerprint(path):
                continue
            loadable.append(version)
        return sorted(loadable)

    def _refresh_model(self, model: _Model) -> None:
        found = version_directories(model.config.base_path)
        policy = model.config.version_policy
        while True:
            wanted = set(policy.select(self._loadable(model, found)))
            missing = sorted(wanted - set(model.available), reverse=True)
            if not missing:
                break
            for version in missing:
                self._load(model, version, found[version])
        for version in sorted(set(model.available) - wanted):
            self._unload(model, version)
        for version in set(model.failures) - set(found):
            del model.failures[version]  # deleted from disk: forget it
            model.states.pop(version, None)

    def _load(self, model: _Model, version: int, path: Path) -> None:
        name = model.config.name
        with self._lock:
            model.states[version] = "LOADING"
        files = fingerprint(path)
        try:
            servable = Servable(name, version, path, self.batching)
            try:
                warmed = self.warm_up(servable) if self.warm_up else 0
            except BaseException:
                servable.unload()
                raise
        except Exception as error:
            message = getattr(error, "message", None) or str(error)
            logger.error("Loading %s version %d failed: %s", name, version, message)
            with self._lock:
                model.states[version] = "END"
                model.failures[version] = _Failure(
                    files, status_code(error).name, message
                )
            if self.on_load:
                self.on_load(str(path), "fail")
            return
        if self.on_load:
            self.on_load(str(path), "success")
        with self._lock:
            model.failures.pop(version, None)
            model.available[version] = servable
            model.states[version] = "AVAILABLE"
        logger.info(
            "Serving %s version %d from %s (%d warmup requests)",
            name,
            version,
            path,
            warmed,
        )

    def _unload(self, model: _Model, version: int) -> None:
        with self._lock:
            servable = model.available.pop(version)
            model.states[version] = "UNLOADING"
        servable.unload()
        with self._lock:
            model.states[version] = "END"
        logger.info("Unloaded %s version %d", model.config.name, version)

    def _model(self, name: str) -> _Model:
        model = self._models.get(name)
        if model is None:
            raise not_found(f"Servable not found for request: Latest({name})")
        return model

    def resolve(self, name: str, version: int | None, label: str | None) -> int | None:
        """The version a request names: its number, its label's, or None."""
        if label is None:
            return version
        labels = self._model(name).config.version_labels
        if label not in labels:
            raise invalid_argument(f"Unrecognized servable version label: {label}")
        return labels[label]

    @contextmanager
    def servable(
        self, name: str, version: int | None = None, label: str | None = None
    ) -> Iterator[Servable]:
        """The servable a request asks for, held loaded while in use.

        No version and no label: the highest AVAILABLE version.

        Raises:
            ServingError: NOT_FOUND for an unknown model or a version that is
                not AVAILABLE; INVALID_ARGUMENT for an unknown label.
        """
        model = self._model(name)
        number = self.resolve(name, version, label)
        with self._lock:
            if number is None:
                servable = (
                    model.available[max(model.available)] if model.available else None
                )
                wanted = f"Latest({name})"
            else:
                servable = model.available.get(number)
                wanted = f"Specific({name}, {number})"
            if servable is None:
                raise not_found(f"Servable not found for request: {wanted}")
            servable.acquire()
        try:
            yield servable
        finally:
            servable.release()

    def statuses(
        self, name: str, version: int | None = None, label: str | None = None
    ) -> list[VersionStatus]:
        """Every known version of ``name`` (or the one asked for), ascending.

        Raises:
            ServingError: NOT_FOUND when nothing matches.
        """
        model = self._model(name)
        number = self.resolve(name, version, label)
        with self._lock:
            statuses = []
            for known, state in sorted(model.states.items()):
                if number is not None and known != number:
                    continue
                failure = model.failures.get(known)
                statuses.append(
                    VersionStatus(known, state)
                    if failure is None
                    else VersionStatus(known, state, failure.code, failure.message)
                )
        if not statuses:
            raise not_found(
                f"Could not find version {number} of model {name}"
                if number is not None
                else f"Could not find any versions of model {name}"
            )
        return statuses

    def available_versions(self, name: str) -> list[int]:
        with self._lock:
            return sorted(self._model(name).available)
