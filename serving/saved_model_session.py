"""A SavedModel loaded and run by TensorFlow's C++ loader, as TF Serving does.

``tensorflow_model_server`` loads a version with the C++ ``LoadSavedModel``:
it imports the MetaGraphDef tagged ``serve`` into a graph, opens a
``Session``, runs the saver's restore op on ``variables/``, runs the init op
(``__saved_model_init_op``, ``main_op`` or ``legacy_init_op``), and from then
on answers each request with ``Session::Run``, feeding and fetching the
tensor names that the SignatureDef lists. The tensorflow wheel ships the same
loader behind its C API (``TF_LoadSessionFromSavedModel`` / ``TF_SessionRun``
in ``libtensorflow_cc.so.2``); this module calls it through ``ctypes``.

So a SavedModel that TF Serving cannot run (a signature reading a variable
that the restore op never fills, an op the model server does not link) fails
here the same way, and one it can run (TF1 graphs included) runs here with
its answers: feeds are not checked against the SignatureDef's static shapes,
exactly as a C++ ``Session`` does not check them.

``import tensorflow_text`` (done here) registers the tf-text ops the raw-text
signatures use in the process-wide op registry; the model server links them.

    session = SavedModelSession("models/clf/1")
    session.signature_defs["serving_default"].inputs    # TensorInfo per input
    session.run("serving_default", {"text": np.array([b"hello"], object)})
    session.close()

``run`` is thread-safe (``TF_SessionRun`` is, and ctypes releases the GIL
for the call), so concurrent requests compute in parallel.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops, as the server links them)
from tensorflow.core.protobuf import config_pb2, meta_graph_pb2
from tensorflow.python.framework import errors_impl

INIT_OP_SIGNATURE = "__saved_model_init_op"
SERVE_TAG = "serve"
_STRING = tf.string.as_datatype_enum
TSTRING_BYTES = 24


class _Buffer(ctypes.Structure):
    """``TF_Buffer``: bytes owned by TensorFlow."""

    _fields_ = [
        ("data", ctypes.c_void_p),
        ("length", ctypes.c_size_t),
        ("data_deallocator", ctypes.c_void_p),
    ]


class _Output(ctypes.Structure):
    """``TF_Output``: one output of one graph operation."""

    _fields_ = [("oper", ctypes.c_void_p), ("index", ctypes.c_int)]


_SIGNATURES = {
    # name: (result type, argument types)
    "TF_NewStatus": (ctypes.c_void_p, []),
    "TF_DeleteStatus": (None, [ctypes.c_void_p]),
    "TF_GetCode": (ctypes.c_int, [ctypes.c_void_p]),
    "TF_Message": (ctypes.c_char_p, [ctypes.c_void_p]),
    "TF_NewGraph": (ctypes.c_void_p, []),
    "TF_DeleteGraph": (None, [ctypes.c_void_p]),
    "TF_GraphOperationByName": (ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_char_p]),
    "TF_NewSessionOptions": (ctypes.c_void_p, []),
    "TF_DeleteSessionOptions": (None, [ctypes.c_void_p]),
    "TF_SetConfig": (
        None,
        [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p],
    ),
    "TF_NewBuffer": (ctypes.POINTER(_Buffer), []),
    "TF_DeleteBuffer": (None, [ctypes.POINTER(_Buffer)]),
    "TF_LoadSessionFromSavedModel": (
        ctypes.c_void_p,
        [
            ctypes.c_void_p,  # const TF_SessionOptions*
            ctypes.c_void_p,  # const TF_Buffer* run_options
            ctypes.c_char_p,  # export_dir
            ctypes.POINTER(ctypes.c_char_p),  # tags
            ctypes.c_int,  # tags_len
            ctypes.c_void_p,  # TF_Graph*
            ctypes.POINTER(_Buffer),  # meta_graph_def (out)
            ctypes.c_void_p,  # TF_Status*
        ],
    ),
    "TF_SessionRun": (
        None,
        [
            ctypes.c_void_p,  # session
            ctypes.c_void_p,  # run_options
            ctypes.POINTER(_Output),  # inputs
            ctypes.POINTER(ctypes.c_void_p),  # input_values
            ctypes.c_int,
            ctypes.POINTER(_Output),  # outputs
            ctypes.POINTER(ctypes.c_void_p),  # output_values (out)
            ctypes.c_int,
            ctypes.c_void_p,  # target_opers
            ctypes.c_int,
            ctypes.c_void_p,  # run_metadata
            ctypes.c_void_p,  # status
        ],
    ),
    "TF_CloseSession": (None, [ctypes.c_void_p, ctypes.c_void_p]),
    "TF_DeleteSession": (None, [ctypes.c_void_p, ctypes.c_void_p]),
    "TF_AllocateTensor": (
        ctypes.c_void_p,
        [ctypes.c_int, ctypes.POINTER(ctypes.c_int64), ctypes.c_int, ctypes.c_size_t],
    ),
    "TF_DeleteTensor": (None, [ctypes.c_void_p]),
    "TF_TensorData": (ctypes.c_void_p, [ctypes.c_void_p]),
    "TF_TensorByteSize": (ctypes.c_size_t, [ctypes.c_void_p]),
    "TF_TensorType": (ctypes.c_int, [ctypes.c_void_p]),
    "TF_NumDims": (ctypes.c_int, [ctypes.c_void_p]),
    "TF_Dim": (ctypes.c_int64, [ctypes.c_void_p, ctypes.c_int]),
    "TF_StringInit": (None, [ctypes.c_void_p]),
    "TF_StringCopy": (None, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]),
    "TF_StringGetDataPointer": (ctypes.c_void_p, [ctypes.c_void_p]),
    "TF_StringGetSize": (ctypes.c_size_t, [ctypes.c_void_p]),
    "TF_StringDealloc": (None, [ctypes.c_void_p]),
}


class _CApi:
    """The C API functions, typed, from the libraries of the tensorflow wheel."""

    def __init__(self):
        directory = Path(tf.sysconfig.get_lib())
        libraries = [
            ctypes.CDLL(str(directory / name))
            for name in ("libtensorflow_cc.so.2", "libtensorflow_framework.so.2")
        ]
        for name, (result, arguments) in _SIGNATURES.items():
            function = next(
                getattr(lib, name) for lib in libraries if hasattr(lib, name)
            )
            function.restype = result
            function.argtypes = arguments
            setattr(self, name, function)
        # sizeof(TF_TString): a 24-byte union (ctstring_internal.h).
        # TF_DataTypeSize(TF_STRING) answers 0 ("variable size"), so it is
        # not asked; the tests read back string tensors of every length class
        # (inline, and heap-allocated above 22 bytes).
        self.tstring_size = TSTRING_BYTES


_api: _CApi | None = None
_api_lock = threading.Lock()


def c_api() -> _CApi:
    """The C API, loaded once per process."""
    global _api
    with _api_lock:
        if _api is None:
            _api = _CApi()
        return _api


def _raise_for(status: int, api: _CApi) -> None:
    """Raises the ``tf.errors`` exception for a non-OK ``TF_Status``."""
    code = api.TF_GetCode(status)
    if code != 0:
        message = api.TF_Message(status).decode("utf-8", "replace")
        raise errors_impl.exception_type_from_error_code(code)(None, None, message)


class _Status:
    """A ``TF_Status`` for one call; ``check()`` raises its error if any."""

    def __init__(self, api: _CApi):
        self._api = api
        self.pointer = api.TF_NewStatus()

    def check(self) -> None:
        _raise_for(self.pointer, self._api)

    def __enter__(self) -> _Status:
        return self

    def __exit__(self, *exc_info) -> None:
        self._api.TF_DeleteStatus(self.pointer)


class _InputTensors:
    """numpy arrays as ``TF_Tensor``s for one run; ``free()`` releases them.

    Strings are ``TF_TString``s that own copies of the bytes; they are
    released only after the outputs were read, since a fetched tensor may
    share its buffer with a fed one (an ``Identity`` of an input).
    """

    def __init__(self, api: _CApi):
        self._api = api
        self.pointers: list[int] = []
        self._strings: list[tuple[int, int]] = []  # (data address, count)

    def add(self, array: np.ndarray, dtype: int) -> None:
        dims = (ctypes.c_int64 * array.ndim)(*array.shape)
        if dtype == _STRING:
            flat = array.reshape(-1)
            size = self._api.tstring_size * flat.size
            pointer = self._api.TF_AllocateTensor(dtype, dims, array.ndim, size)
            self.pointers.append(pointer)
            data = self._api.TF_TensorData(pointer)
            for index, value in enumerate(flat):
                element = data + index * self._api.tstring_size
                self._api.TF_StringInit(element)
                self._api.TF_StringCopy(element, value, len(value))
            self._strings.append((data, flat.size))
            return
        array = np.ascontiguousarray(array).reshape(array.shape)  # keeps 0-d
        pointer = self._api.TF_AllocateTensor(dtype, dims, array.ndim, array.nbytes)
        self.pointers.append(pointer)
        if array.nbytes:
            ctypes.memmove(
                self._api.TF_TensorData(pointer), array.ctypes.data, array.nbytes
            )

    def free(self) -> None:
        for data, count in self._strings:
            for index in range(count):
                self._api.TF_StringDealloc(data + index * self._api.tstring_size)
        for pointer in self.pointers:
            self._api.TF_DeleteTensor(pointer)
        self.pointers, self._strings = [], []


def _to_numpy(api: _CApi, pointer: int) -> np.ndarray:
    """Copies a fetched ``TF_Tensor`` into a numpy array (strings: bytes)."""
    shape = tuple(api.TF_Dim(pointer, i) for i in range(api.TF_NumDims(pointer)))
    enum = api.TF_TensorType(pointer)
    data = api.TF_TensorData(pointer)
    if enum == _STRING:
        count = int(np.prod(shape, dtype=np.int64))
        values = np.empty(count, object)
        for index in range(count):
            element = data + index * api.tstring_size
            values[index] = ctypes.string_at(
                api.TF_StringGetDataPointer(element), api.TF_StringGetSize(element)
            )
        return values.reshape(shape)
    dtype = tf.as_dtype(enum).as_numpy_dtype
    size = api.TF_TensorByteSize(pointer)
    flat = np.frombuffer(ctypes.string_at(data, size) if size else b"", dtype)
    return flat.reshape(shape)


def feed_value(value: object) -> tuple[np.ndarray, int]:
    """A value as (array, DataType enum) to feed; its dtype is its own.

    Strings (``bytes`` / ``str``) become a string tensor; numbers keep their
    numpy dtype, and the session checks it against the graph, as TF Serving's
    session does.

    Raises:
        TypeError: a value that is neither numeric nor all strings.
    """
    array = np.asarray(value)
    if array.dtype.kind in "OSU":
        array = np.array(array, dtype=object)  # a copy: converted in place
        flat = array.reshape(-1)
        for index, item in enumerate(flat):
            if isinstance(item, str):
                flat[index] = item.encode("utf-8")
            elif not isinstance(item, bytes):
                raise TypeError(
                    f"Cannot mix {type(item).__name__} into a string tensor."
                )
        return array, _STRING
    return array, tf.as_dtype(array.dtype).as_datatype_enum


class SavedModelSession:
    """One SavedModel version, loaded by the C++ ``LoadSavedModel``.

    Args:
        export_dir: the version directory (``saved_model.pb`` + ``variables/``).
        tags: the MetaGraphDef to load (TF Serving loads ``serve``).
        config: a ``ConfigProto`` for the session (threads, ...).

    Raises:
        tf.errors.OpError: the loader's error (missing files, an op the
            process does not register, a failing restore or init op).
    """

    def __init__(
        self,
        export_dir: str | Path,
        tags: Iterable[str] = (SERVE_TAG,),
        config: config_pb2.ConfigProto | None = None,
    ):
        self._api = api = c_api()
        self.export_dir = Path(export_dir)
        self._lock = threading.Lock()
        self._running = 0
        self._idle = threading.Condition(self._lock)
        self._closed = False
        options = api.TF_NewSessionOptions()
        self._graph = api.TF_NewGraph()
        meta_graph = api.TF_NewBuffer()
        try:
            with _Status(api) as status:
                if config is not None:
                    serialized = config.SerializeToString()
                    api.TF_SetConfig(
                        options, serialized, len(serialized), status.pointer
                    )
                    status.check()
                tag_list = [tag.encode() for tag in tags]
                tag_array = (ctypes.c_char_p * len(tag_list))(*tag_list)
                self._session = api.TF_LoadSessionFromSavedModel(
                    options,
                    None,
                    str(self.export_dir).encode(),
                    tag_array,
                    len(tag_list),
                    self._graph,
                    meta_graph,
                    status.pointer,
                )
                status.check()
            self.meta_graph = meta_graph_pb2.MetaGraphDef.FromString(
                ctypes.string_at(meta_graph.contents.data, meta_graph.contents.length)
            )
        except BaseException:
            api.TF_DeleteGraph(self._graph)
            raise
        finally:
            api.TF_DeleteBuffer(meta_graph)
            api.TF_DeleteSessionOptions(options)
        self.signature_defs: dict[str, meta_graph_pb2.SignatureDef] = {
            name: self.meta_graph.signature_def[name]
            for name in sorted(self.meta_graph.signature_def)
            if name != INIT_OP_SIGNATURE
        }
        self._outputs: dict[str, _Output] = {}

    def _output(self, tensor_name: str) -> _Output:
        """The ``TF_Output`` of a graph tensor name like ``"op:0"``."""
        cached = self._outputs.get(tensor_name)
        if cached is not None:
            return cached
        operation, _, index = tensor_name.partition(":")
        pointer = self._api.TF_GraphOperationByName(self._graph, operation.encode())
        if not pointer:
            raise tf.errors.NotFoundError(
                None, None, f"Tensor {tensor_name!r} is not in the graph."
            )
        output = _Output(pointer, int(index or 0))
        self._outputs[tensor_name] = output
        return output

    def run_tensors(
        self,
        feeds: Mapping[str, tuple[np.ndarray, int]],
        fetches: list[str],
    ) -> list[np.ndarray]:
        """``Session::Run``: graph tensor name -> (array, DataType enum) feeds.

        Returns the fetched tensors in order, as numpy arrays.
        """
        api = self._api
        with self._lock:
            if self._closed:
                raise tf.errors.UnavailableError(None, None, "The session is closed.")
            self._running += 1
        inputs = _InputTensors(api)
        fetched = (ctypes.c_void_p * len(fetches))()
        try:
            input_outputs = (_Output * len(feeds))(
                *(self._output(name) for name in feeds)
            )
            for array, dtype in feeds.values():
                inputs.add(array, dtype)
            values = (ctypes.c_void_p * len(feeds))(*inputs.pointers)
            output_outputs = (_Output * len(fetches))(
                *(self._output(name) for name in fetches)
            )
            with _Status(api) as status:
                api.TF_SessionRun(
                    self._session,
                    None,
                    input_outputs,
                    values,
                    len(feeds),
                    output_outputs,
                    fetched,
                    len(fetches),
                    None,
                    0,
                    None,
                    status.pointer,
                )
                status.check()
            return [_to_numpy(api, pointer) for pointer in fetched]
        finally:
            for pointer in fetched:
                if pointer:
                    api.TF_DeleteTensor(pointer)
            inputs.free()
            with self._lock:
                self._running -= 1
                self._idle.notify_all()

    def run(
        self,
        signature_name: str,
        inputs: Mapping[str, object],
        output_names: Iterable[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """Runs a signature by its SignatureDef's tensor names.

        Args:
            signature_name: a key of ``signature_defs``.
            inputs: input alias -> array; every input of the signature.
            output_names: output aliases to fetch (default all).

        Raises:
            KeyError: an unknown signature, a missing or an unknown input.
            tf.errors.OpError: what ``Session::Run`` reports (a wrong dtype,
                an op's invalid argument, ...).
        """
        signature = self.signature_defs[signature_name]
        if set(inputs) != set(signature.inputs):
            raise KeyError(
                f"Signature {signature_name!r} takes {sorted(signature.inputs)}, "
                f"got {sorted(inputs)}."
            )
        names = (
            sorted(signature.outputs) if output_names is None else list(output_names)
        )
        fetched = self.run_tensors(
            {
                signature.inputs[alias].name: feed_value(value)
                for alias, value in inputs.items()
            },
            [signature.outputs[alias].name for alias in names],
        )
        return dict(zip(names, fetched, strict=True))

    def close(self) -> None:
        """Waits for runs in flight, then closes the session (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            while self._running:
                self._idle.wait()
        with _Status(self._api) as status:
            self._api.TF_CloseSession(self._session, status.pointer)
            self._api.TF_DeleteSession(self._session, status.pointer)
        self._api.TF_DeleteGraph(self._graph)

    def __enter__(self) -> SavedModelSession:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
