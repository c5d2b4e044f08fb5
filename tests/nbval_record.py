"""A pytest plugin: keep the notebooks nbval runs, with their outputs, so that the book need not run them again.

Set GAN_UTILS_EXECUTED_DIR to a folder and run the notebooks' tests as usual; after the last cell of a
notebook has run, ``<folder>/<notebook stem>.ipynb`` holds the notebook with every code cell's outputs
and execution count from this run (valid nbformat 4; written under a temporary name, then renamed).
Without the variable the plugin does nothing. It is activated from the root conftest.py with
``pytest_plugins = ["tests.nbval_record"]``.

How the outputs are taken. nbval keeps what it received in ``IPyNbCell.test_outputs``, but in a form
made for comparing, not for showing: every stdout (and stderr) message of a cell is merged into one
stream at the place of the first, so text printed after a figure moves above it, ``clear_output`` and
``update_display_data`` are dropped, and every count is 0 (nbval runs cells with store_history=False).
So the plugin instead listens to the kernel messages nbval reads, while a cell runs (it wraps the
kernel's ``execute_cell_input`` and ``get_message``; nbval's behaviour is unchanged), and replays them
through nbclient's message handling, the one Jupyter Book uses when it executes a notebook: outputs in
the order they came, ``clear_output``, display updates, widget state (notebook metadata ``widgets``),
and the outputs of an ``ipywidgets.Output`` (``interactive``) kept in the widget, not in the cell.
Then, as JupyterLab shows them, adjacent outputs of the same stream are joined and ``\\r`` and ``\\b``
(progress bars) are applied; code cells are numbered 1, 2, ... in the order they ran.

Every copy has ``metadata.nbval_record``: ``failed`` (true when any cell failed, errored, timed out,
or did not run other than by ``# NBVAL_SKIP``, so a later step can refuse the copy), the code cells
(0-based, counted as nbval names them ``Cell N``) that failed or did not run, ``source_sha256`` (of the
notebook file when its first cell ran) and ``GAN_UTILS_QUICK``. A cell skipped with ``# NBVAL_SKIP``
(or the ``nbval-skip`` tag) has no outputs and no count, as an unrun cell in Jupyter.

Under pytest-xdist each worker writes the notebooks it ran; ``--dist loadscope`` (or ``loadfile``) is
needed, so that all cells of a notebook run in one worker: with cells split between workers each copy
misses cells and says ``failed``.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import tempfile
import warnings
from pathlib import Path

import pytest

ENV_VAR = "GAN_UTILS_EXECUTED_DIR"
METADATA_KEY = "nbval_record"
# Kernel messages that carry outputs; the others (status, execute_input, replies) are not replayed.
OUTPUT_MESSAGES = {"stream", "display_data", "execute_result", "error", "update_display_data", "clear_output",
                   "comm_open", "comm_msg", "comm_close"}
# As nbval and JupyterLab apply them to a stream: a character followed by backspace goes, and so does
# a line's text before a carriage return that is not the end of the line.
BACKSPACE = re.compile(r"[^\n]\x08")  # \x08: backspace (in a regex, \b is a word boundary)
CARRIAGE_RETURN = re.compile(r"^.*\r(?=[^\n])", re.MULTILINE)


def pytest_configure(config):
    folder = os.environ.get(ENV_VAR)
    if not folder:
        return
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:
        warnings.warn(f"{ENV_VAR} is set but nbval is not installed: no executed notebooks are written.")
        return
    config.pluginmanager.register(Recorder(Path(folder).resolve(), IPyNbCell), "nbval_record_recorder")


class Notebook:
    """One notebook's run: the copy being filled, and what happened to each code cell."""

    def __init__(self, collector):
        from nbclient import NotebookClient
        from nbclient.output_widget import OutputWidget

        class OfflineOutputWidget(OutputWidget):
            def sync_state(self):
                """nbclient sends an Output widget's outputs back to the kernel; this replay has none."""

        self.path = Path(str(collector.path))
        try:
            self.sha256 = hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            self.sha256 = None
        self.nb = copy.deepcopy(collector.nb)
        self.code_cells = [index for index, cell in enumerate(self.nb.cells) if cell.cell_type == "code"]
        for index in self.code_cells:
            self.nb.cells[index].outputs = []
            self.nb.cells[index].execution_count = None
        # A kernel-less client: only its message handling is used.
        self.client = NotebookClient(self.nb, record_timing=False)
        self.client.widget_registry = {"@jupyter-widgets/output": {"OutputModel": OfflineOutputWidget}}
        self.ran = set()  # the code cells (numbered as nbval does) sent to the kernel
        self.failed = set()
        self.skipped = set()  # by NBVAL_SKIP
        self.written = False

    def replay(self, cell_num, msg_id, messages):
        """Turn the kernel messages of one cell into its outputs, as nbclient does."""
        index = self.code_cells[cell_num]
        cell = self.nb.cells[index]
        self.client.clear_before_next_output = False  # as nbclient sets it before each cell
        for msg in messages:
            if msg.get("parent_header", {}).get("msg_id") != msg_id or msg.get("msg_type") not in OUTPUT_MESSAGES:
                continue
            self.client.process_message(msg, cell, index)
        self.ran.add(cell_num)

    def finish(self):
        """The notebook as written: numbered cells, joined streams, and the record of the run."""
        count = 0
        for cell_num, index in enumerate(self.code_cells):
            cell = self.nb.cells[index]
            if cell_num not in self.ran:
                cell.outputs, cell.execution_count = [], None
                continue
            count += 1
            cell.execution_count = count
            cell.outputs = join_streams(cell.outputs)
            for output in cell.outputs:
                if output.output_type == "execute_result":
                    output.execution_count = count
        self.client.set_widgets_metadata()
        not_run = [n for n in range(len(self.code_cells)) if n not in self.ran and n not in self.skipped]
        self.nb.metadata[METADATA_KEY] = {
            "failed": bool(self.failed or not_run),
            "failed_cells": sorted(self.failed),
            "not_run_cells": not_run,
            "skipped_cells": sorted(self.skipped),
            "source_sha256": self.sha256,
            "GAN_UTILS_QUICK": os.environ.get("GAN_UTILS_QUICK"),
        }
        return self.nb


def join_streams(outputs):
    """Adjacent outputs of one stream made one, with backspaces and carriage returns applied."""
    joined = []
    for output in outputs:
        if (output.output_type == "stream" and joined and joined[-1].output_type == "stream"
                and joined[-1].name == output.name):
            joined[-1].text += output.text
        else:
            joined.append(output)
    for output in joined:
        if output.output_type == "stream":
            text = output.text
            while True:
                shorter = BACKSPACE.sub("", text)
                if shorter == text:
                    break
                text = shorter
            output.text = CARRIAGE_RETURN.sub("", text)
    return joined


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".ipynb.tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


class Recorder:
    def __init__(self, folder: Path, cell_class):
        self.folder = folder
        self.cell_class = cell_class
        self.notebooks = {}  # the notebook collector's nodeid -> Notebook

    def notebook(self, item) -> Notebook:
        key = item.parent.nodeid
        if key not in self.notebooks:
            self.notebooks[key] = Notebook(item.parent)
        return self.notebooks[key]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        if not isinstance(item, self.cell_class):
            return (yield)
        notebook = self.notebook(item)
        kernel = getattr(item.parent, "kernel", None)
        if kernel is None or not hasattr(kernel, "execute_cell_input") or not hasattr(kernel, "get_message"):
            return (yield)  # nothing can be recorded: the cell counts as not run, the copy as failed
        sent, received = [], []
        execute_cell_input, get_message = kernel.execute_cell_input, kernel.get_message

        def recording_execute(*args, **kwargs):
            msg_id = execute_cell_input(*args, **kwargs)
            sent.append(msg_id)
            return msg_id

        def recording_get(*args, **kwargs):
            msg = get_message(*args, **kwargs)
            received.append(msg)
            return msg

        kernel.execute_cell_input, kernel.get_message = recording_execute, recording_get
        try:
            return (yield)
        finally:
            del kernel.execute_cell_input, kernel.get_message  # back to the class's methods
            if sent:
                try:
                    notebook.replay(item.cell_num, sent[0], received)
                except Exception as error:  # never let the record change a test's outcome
                    notebook.failed.add(item.cell_num)
                    warnings.warn(f"nbval_record could not replay {item.nodeid}: {error!r}")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if isinstance(item, self.cell_class):
            notebook = self.notebook(item)
            if report.failed or hasattr(report, "wasxfail"):  # nbval marks the cells after a timeout xfail
                notebook.failed.add(item.cell_num)
            elif call.when == "call" and report.skipped and item.options.get("skip"):
                notebook.skipped.add(item.cell_num)
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        result = yield
        if isinstance(item, self.cell_class) and (nextitem is None or nextitem.parent is not item.parent):
            self.write(self.notebook(item))
        return result

    def pytest_sessionfinish(self, session):
        # A run stopped early (-x, --maxfail, Ctrl-C) leaves notebooks whose last cell did not run.
        for notebook in self.notebooks.values():
            if not notebook.written:
                self.write(notebook)

    def write(self, notebook: Notebook) -> None:
        import nbformat

        notebook.written = True
        path = self.folder / f"{notebook.path.stem}.ipynb"
        try:
            nb = notebook.finish()
            try:
                nbformat.validate(nb)
            except nbformat.ValidationError as error:
                nb.metadata[METADATA_KEY].update(failed=True, invalid=str(error)[:2000])
            write_atomically(path, nbformat.writes(nb))
        except Exception as error:  # the test run goes on; the missing copy tells the book to execute
            warnings.warn(f"nbval_record could not write {path}: {error!r}")
