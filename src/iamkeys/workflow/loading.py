"""Reading a workflow: a file or a library name, then YAML through `safe_load`, within limits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import WorkflowError
from .limits import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES

# The library's workflows: the .yaml files of the `library/` folder of this package.
LIBRARY_PACKAGE = "iamkeys.workflow"
LIBRARY_FOLDER = "library"


def is_path(reference: str | Path) -> bool:
    """Whether a reference names a file (a Path, a `/`, or a .yaml/.yml end) or a library name."""
    text = str(reference)
    return isinstance(reference, Path) or "/" in text or text.endswith((".yaml", ".yml"))


def read(reference: str | Path) -> str:
    """The text of a workflow file or of a workflow of the library."""
    return read_file(Path(reference)) if is_path(reference) else read_library(str(reference))


def library() -> tuple[str, ...]:
    """The names of the workflows shipped in `iamkeys/workflow/library/`."""
    return tuple(sorted(entry.name.removesuffix(".yaml") for entry in _library().iterdir()
                        if entry.name.endswith(".yaml")))


def _library() -> Any:
    """The library folder, as an importlib.resources Traversable."""
    from importlib import resources

    return resources.files(LIBRARY_PACKAGE).joinpath(LIBRARY_FOLDER)


def read_library(name: str) -> str:
    """A shipped workflow's text."""
    if name not in library():
        raise WorkflowError(name, f"not a workflow of the library ({', '.join(library())}); "
                                  "a file path needs a / or a .yaml extension")
    text: str = _library().joinpath(f"{name}.yaml").read_text("utf-8")
    return text


def read_file(path: Path) -> str:
    """A workflow file's text: at most MAX_FILE_BYTES of UTF-8."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise WorkflowError(str(path), f"cannot read: {e.strerror or e}") from e
    if len(data) > MAX_FILE_BYTES:
        raise WorkflowError(str(path), f"larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise WorkflowError(str(path), f"not UTF-8 text ({e.reason} at byte {e.start})") from e


def safe_yaml(text: str, source: str) -> Any:
    """`yaml.safe_load`, after an event scan that enforces the limits and refuses aliases."""
    import yaml

    try:
        _scan(yaml.parse(text, Loader=yaml.SafeLoader), source)
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        line = f"line {e.problem_mark.line + 1}: " if e.problem_mark else ""
        raise WorkflowError(source, f"not valid YAML: {line}{e.problem or e.context}") from e
    except yaml.YAMLError as e:
        raise WorkflowError(source, f"not valid YAML: {' '.join(str(e).split())}") from e


@dataclass(slots=True)
class _OpenMapping:
    """A YAML mapping being scanned: the keys seen so far, and whether a key comes next."""

    seen: set[str] = field(default_factory=set)
    expect_key: bool = True


def _scan(events: Iterator[Any], source: str) -> None:
    """Refuse anchors and aliases (billion laughs), deep nesting, huge or duplicate-key docs."""
    import yaml

    open_collections: list[_OpenMapping | None] = []  # None: a sequence
    count = 0
    for event in events:
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise WorkflowError(source, f"line {event.start_mark.line + 1}: YAML anchors and "
                                        "aliases are not allowed")
        if isinstance(event, yaml.CollectionEndEvent):
            open_collections.pop()
        if not isinstance(event, yaml.NodeEvent):
            continue
        count += 1
        if count > MAX_NODES:
            raise WorkflowError(source, f"more than {MAX_NODES} YAML nodes")
        if open_collections and open_collections[-1] is not None:
            _check_key(open_collections[-1], event, source)
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_collections) >= MAX_DEPTH:
                raise WorkflowError(source, f"nested deeper than {MAX_DEPTH} levels")
            is_mapping = isinstance(event, yaml.MappingStartEvent)
            open_collections.append(_OpenMapping() if is_mapping else None)


def _check_key(mapping: _OpenMapping, event: Any, source: str) -> None:
    """Keys and values alternate; keys must be plain scalars, each given once."""
    import yaml

    if mapping.expect_key:
        where = f"line {event.start_mark.line + 1}"
        if not isinstance(event, yaml.ScalarEvent):
            raise WorkflowError(source, f"{where}: mapping keys must be plain scalars")
        if event.value in mapping.seen:
            raise WorkflowError(source, f"{where}: duplicate key {event.value!r}")
        mapping.seen.add(event.value)
    mapping.expect_key = not mapping.expect_key
