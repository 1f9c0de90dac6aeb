"""`pixup` command line: argument parsing and printing only; the work is done by jobs and models."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import signal
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from pixup import __version__

if TYPE_CHECKING:
    from pixup.api.schema import FileResult
    from pixup.jobs.state import FileView, JobView
from pixup.errors import FailureCode, ModelNameTakenError, PixupError, UnknownModelError

log = logging.getLogger("pixup")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 130
COMMANDS = ("upscale", "serve", "info", "models")
"""The sub-commands; any other arguments that are all existing paths open the window with them."""


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pixup", description="AI image upscaler.")
    parser.add_argument("--version", action="version", version=f"pixup {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command")

    up = sub.add_parser("upscale", help="upscale images or folders", formatter_class=_UpscaleHelp)
    up.add_argument("inputs", nargs="+", type=Path, metavar="INPUT")
    up.add_argument("--json", action="store_true", help="one JSON object per file on stdout")
    # The value sets without pydantic: `pixup upscale` needs it only once the arguments are good.
    from pixup.choices import JpegSubsampling, OutputFormat, Precision, Scenario

    # Every other argument sets the job option its dest names; one left out is absent from the
    # namespace, so the options model gives its default (and --help shows it: _UpscaleHelp).
    option = functools.partial(_option, up)
    option("-o", "--output", dest="output_dir", metavar="DIR",
           help="output folder (default: beside each input)")
    option("-m", "--model", help="bundled model id or a model file path")
    option("--scenario", choices=list(get_args(Scenario)),
           help="pick the model by problem (default: Universal Fast); --model overrides it")
    option("-s", "--scale", type=float, help="target scale (default: the model's)")
    option("--faces", action="store_true",
           help="face recovery with your imported GFPGAN/CodeFormer model (after upscaling)")
    option("--face-model", metavar="NAME|PATH", help="which face model (default: the first imported)")
    option("--repair", type=int, metavar="0-100",
           help="fix compression (JPEG artefacts) before upscaling, at this strength (0: off)")
    option("--tile", type=int, help="tile size in pixels (default: automatic)")
    option("--batch", type=int, help="tiles per inference (default: automatic)")
    option("-f", "--format", choices=list(get_args(OutputFormat)), help="output format")
    option("-q", "--quality", type=int, help="JPEG/WebP quality 1-100")
    option("--lossless", dest="webp_lossless", action="store_true", help="lossless WebP")
    option("--png-compression", dest="png_compression", type=int, metavar="0-9",
           help="PNG/TIFF zlib level (1 is 4x faster than 6 for 9%% more bytes)")
    option("--subsampling", dest="jpeg_subsampling", choices=list(get_args(JpegSubsampling)),
           help="JPEG chroma")
    option("--progressive", dest="jpeg_progressive", action="store_true", help="progressive JPEG")
    option("--background", metavar="#RRGGBB", help="colour under transparency for JPEG")
    option("--precision", choices=list(get_args(Precision)),
           help="fast: int8 (models measured for it) or fp32 on CPUs without AMX, bf16 with AMX, fp16 "
                "on GPUs; exact: fp32")
    option("--name", dest="name_template", metavar="TEMPLATE", help="output file name template")
    option("-r", "--recursive", action="store_true", help="descend into sub-folders")
    option("--overwrite", action="store_true", help="replace existing outputs")
    option("--allow-large", action="store_true", help="lift the decompression-bomb guard")

    serve = sub.add_parser("serve", help="the UI and its API over HTTP, for a browser")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    serve.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    serve.add_argument("--output", type=Path, help="default output folder")
    serve.add_argument("--root", type=Path, action="append", default=[], metavar="DIR",
                       help="a folder whose images the browser may be shown (repeatable)")
    serve.add_argument("--no-browser", action="store_true", help="do not open a browser")

    info = sub.add_parser("info", help="providers, devices, memory and pixup's folders")
    info.add_argument("--json", action="store_true")

    models = sub.add_parser("models", help="list, inspect and import models")
    msub = models.add_subparsers(dest="models_command", required=True)
    mlist = msub.add_parser("list", help="list the models pixup knows")
    mlist.add_argument("--json", action="store_true")
    minfo = msub.add_parser("info", help="inspect one model")
    minfo.add_argument("name")
    minfo.add_argument("--json", action="store_true")
    mimport = msub.add_parser("import", help="import a .onnx or ncnn .param/.bin model")
    mimport.add_argument("path", type=Path, help="a model file or a folder of models (Upscayl's)")
    mimport.add_argument("--name", help="id to store it under (default: the file name)")
    mimport.add_argument("--overwrite", action="store_true", help="replace a model of the same name")
    mimport.add_argument("--json", action="store_true")
    return parser


_OPTION_FLAGS: dict[str, str] = {}
"""`pixup upscale`'s flag for each job option it sets (field name → flag), for error lines."""


def _option(parser: argparse.ArgumentParser, *flags: str, **kwargs: Any) -> None:
    """An argument of `parser` that sets a job option (`UpscaleOptions`): absent unless given."""
    action = parser.add_argument(*flags, default=argparse.SUPPRESS, **kwargs)
    _OPTION_FLAGS[action.dest] = action.option_strings[-1]


class _UpscaleHelp(argparse.HelpFormatter):
    """`pixup upscale --help`: each job option's default as the options model has it, read only
    when the help is shown (pydantic is not imported otherwise)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        if action.default is not argparse.SUPPRESS:
            return text
        from pixup.jobs.options import UpscaleOptions

        field = UpscaleOptions.model_fields.get(action.dest)
        if field is None or field.default in (None, False, ""):
            return text
        default = str(field.default).replace("%", "%%")
        return f"{text} (default: {default})" if text else f"default: {default}"


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["--inspect-model-child"] and len(given) == 2:
        # The compiled app's stand-in for `python -m pixup.models.probe PATH` (models.probe.CHILD_FLAG).
        from pixup.models.probe import child_main

        return child_main(given[1])
    if given in ([], ["-v"], ["--verbose"]):
        # The window: it shows before the heavy imports (pydantic models, numpy, ONNX Runtime),
        # which load behind it.
        _setup_logging(bool(given))
        from pixup.desktop.window import run_desktop

        return run_desktop()
    opened = given and given[0] not in COMMANDS and not given[0].startswith("-")
    if opened and all(Path(g).exists() for g in given):
        # `pixup photo.jpg folder/`: "Open with pixup" from a file manager opens the window with them.
        _setup_logging(False)
        from pixup.desktop.window import run_desktop

        return run_desktop(given)
    parser = _build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    if not args.verbose:
        # ONNX Runtime and OpenVINO are chatty on stderr; the user gets our one-liners instead.
        _quiet_onnxruntime()
    try:
        if args.command == "upscale":
            return _cmd_upscale(args)
        if args.command == "info":
            return _cmd_info(args)
        if args.command == "models":
            return _cmd_models(args)
        if args.command == "serve":
            return _cmd_serve(args)
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    except PixupError as err:
        print(f"pixup: {err}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("pixup: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:
        # `pixup models list | head`: the reader left; say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _setup_logging(verbose: bool) -> None:
    """The terminal gets one-line results (and details with -v); the full story goes to the log file."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.INFO if verbose else logging.CRITICAL)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(console)
    try:
        from pixup.paths import user_paths

        logs = user_paths().logs
        logs.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(logs / "pixup.log", encoding="utf-8")
    except OSError:
        return  # a read-only home must not stop the upscale
    file_handler.setLevel(logging.INFO)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(file_handler)


def _quiet_onnxruntime() -> None:
    try:
        import onnxruntime

        onnxruntime.set_default_logger_severity(3)
    except Exception:  # an optional nicety; never a reason to fail
        pass


def _cmd_upscale(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from pixup.api.mapping import file_result
    from pixup.jobs.options import UpscaleOptions
    from pixup.jobs.service import JobService

    given = {name: value for name, value in vars(args).items() if name in UpscaleOptions.model_fields}
    try:
        options = UpscaleOptions.model_validate(given)
    except ValidationError as err:
        first = err.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        print(f"pixup: invalid {_OPTION_FLAGS.get(field, field)}: {first['msg']}", file=sys.stderr)
        return EXIT_USAGE

    service = JobService()
    job_id = uuid.uuid4().hex
    bar = _ProgressBar(enabled=sys.stderr.isatty() and not args.json)
    reported: set[str] = set()

    def on_event(snapshot: JobView) -> None:
        if snapshot.job_id != job_id:
            return
        # File N may still be writing while N+1 upscales: the bar follows the file being computed.
        computing = [(index, state) for index, state in enumerate(snapshot.files)
                     if state.status == "running" and state.stage != "write"]
        if computing:
            index, state = computing[-1]
            bar.update(state, index, len(snapshot.files))
        for state in snapshot.files:
            if state.status in ("done", "failed", "cancelled") and state.input not in reported:
                if snapshot.error and not args.json:
                    continue  # the job's own error is printed once, below
                reported.add(state.input)
                _report(file_result(state))

    def _report(result: FileResult) -> None:
        bar.file_done(result.input)
        if args.json:
            print(result.model_dump_json(), flush=True)
        elif result.status == "failed":
            print(f"pixup: {_failure_line(result)}", file=sys.stderr, flush=True)
        elif result.status == "done":
            for notice in result.notices:
                bar.write(f"pixup: note: {notice}")
            bar.write(f"{result.input} -> {result.output} ({result.out_width}×{result.out_height}, "
                      f"{result.seconds:.1f} s)")

    service.subscribe(on_event)
    try:
        service.submit(job_id, list(args.inputs), options)
    except PixupError as err:  # the request could not be planned: nothing started
        print(f"pixup: {_hinted(str(err), err.code)}", file=sys.stderr)
        return EXIT_FAILED
    # The main thread only waits, so Ctrl+C reaches it and cancels the job.
    cancelled = False
    while True:
        try:
            if service.wait(job_id, 0.05):
                break
        except KeyboardInterrupt:
            cancelled = True
            service.cancel(job_id)
    final = service.status(job_id)
    on_event(final)  # a listener call may still be on its way; report from the final state too
    bar.close()
    if final.error:
        print(f"pixup: {_job_line(final.error, final.error_code)}", file=sys.stderr)
        return EXIT_FAILED
    if cancelled or final.status == "cancelled" or any(f.status == "cancelled" for f in final.files):
        print("pixup: cancelled; no partial output was written", file=sys.stderr)
        if cancelled:
            # An abandoned inference may still run in a native thread (OpenVINO ignores
            # RunOptions.terminate); tearing the interpreter down under it can abort the process.
            # Nothing is left to write, so leave at once.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_CANCELLED)
        return EXIT_CANCELLED
    return EXIT_OK if final.files and all(f.status == "done" for f in final.files) else EXIT_FAILED


class _ProgressBar:
    """A tqdm bar of tiles for the file in flight; silent when stderr is not a terminal."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._bar: Any = None
        self._file: str | None = None

    def update(self, state: FileView, index: int, total: int) -> None:
        if not self._enabled:
            return
        from tqdm import tqdm

        if self._file != state.input or self._bar is None:
            self.file_done()
            self._file = state.input
            label = f"[{index + 1}/{total}] {state.name}"
            self._bar = tqdm(total=state.tiles_total, desc=label, unit="tile", leave=False,
                             dynamic_ncols=True)
        self._bar.total = state.tiles_total
        self._bar.n = state.tiles_done
        self._bar.refresh()

    def file_done(self, file: str | None = None) -> None:
        """Close the bar (only if it shows `file`, when given: the next file's bar stays)."""
        if file is not None and file != self._file:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._file = None

    def write(self, line: str) -> None:
        if self._enabled:
            from tqdm import tqdm

            tqdm.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr)

    def close(self) -> None:
        self.file_done()


def _cmd_serve(args: argparse.Namespace) -> int:
    from pixup.api.bridge import Api
    from pixup.api.http import ApiServer, is_loopback

    if args.port < 0 or args.port > 65535:
        print(f"pixup: invalid --port: {args.port}", file=sys.stderr)
        return EXIT_USAGE
    for root in args.root:
        if not root.is_dir():
            print(f"pixup: --root {root} is not a folder", file=sys.stderr)
            return EXIT_USAGE
    output = str(args.output.resolve()) if args.output else None
    api = Api(output_dir=output, uploads=True)
    try:
        server = ApiServer(api, host=args.host, port=args.port, roots=args.root)
    except OSError as err:
        api.close()
        print(f"pixup: cannot listen on {args.host}:{args.port}: {err.strerror}", file=sys.stderr)
        return EXIT_FAILED
    if not is_loopback(args.host):
        print(f"pixup: warning: listening on {args.host}, reachable from other machines", file=sys.stderr)
    print(server.url, flush=True)
    if not args.no_browser:
        import webbrowser

        webbrowser.open(server.url)
    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # a service manager's stop, like Ctrl-C: uploads are removed on the way out

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        api.close()
    return EXIT_OK


def _plan_line(plan: list[dict[str, Any]]) -> str:
    """The first choice of a plan in words; a variant choice (int8) names what the other models get."""
    first = plan[0]
    if first.get("variant") and len(plan) > 1:
        return f"{first['description']} for the models measured for it, else {plan[1]['description']}"
    return str(first["description"])


def _cmd_info(args: argparse.Namespace) -> int:
    from pixup.info import collect_info

    info = collect_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return EXIT_OK
    info = {**info, "precision": {k: _plan_line(v) for k, v in info["precision"].items()}}
    info["gpus"] = [f"{g['name']} ({g['vram_free'] / 2**30:.1f} / {g['vram_total'] / 2**30:.1f} GiB free)"
                    for g in info["gpus"]] or ["none found"]
    for section in ("memory",):
        info[section] = {k: f"{v / 2**30:.1f} GiB" for k, v in info[section].items()}
    for key, value in info.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for k, v in value.items():
                print(f"  {k}: {v}")
        elif isinstance(value, list):
            print(f"{key}: {', '.join(map(str, value))}")
        else:
            print(f"{key}: {value}")
    return EXIT_OK


def _cmd_models(args: argparse.Namespace) -> int:
    from pixup.models.catalogue import list_models

    if args.models_command == "list":
        from pixup.models.config import ConfigStore
        from pixup.paths import user_paths

        config = ConfigStore(user_paths().models)
        config.load()
        if config.error:
            print(f"pixup: note: {config.error}", file=sys.stderr)
        rows = []
        for entry in list_models():
            data = _entry_dict(entry)
            override = config.override_for(str(data["id"]))
            data["display_name"] = override.display_name or data.get("display_name")
            data["scenario"] = override.scenario or data.get("scenario") or (
                "Custom" if data.get("source") != "bundled" else None)
            rows.append(data)
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            width = max(len(str(r["id"])) for r in rows) if rows else 0
            for r in rows:
                print(f"{r['id']!s:{width}}  {r['scenario'] or '':18}  {r.get('display_name') or ''}")
        return EXIT_OK
    if args.models_command == "info":
        from pixup.models.slot import ModelSlot

        # Through the slot, like an upscale: a user's model is inspected behind the crash guard.
        slot = ModelSlot()
        try:
            model, session = slot.get(args.name)
            data = {**_entry_dict(model), "provider": session.provider, "spec": _entry_dict(session.spec)}
        except UnknownModelError as err:
            print(f"pixup: {_hinted(str(err), err.code)}", file=sys.stderr)
            return EXIT_FAILED
        finally:
            slot.clear()
        if args.json:
            print(json.dumps(data, indent=2))
        else:
            for key, value in data.items():
                print(f"{key}: {value}")
        return EXIT_OK
    from pixup.models.importing import import_models

    outcomes = import_models(args.path, name=args.name, overwrite=args.overwrite)
    for outcome in outcomes:
        if args.json:
            print(json.dumps({"source": str(outcome.source), "error": outcome.error,
                              "model": _entry_dict(outcome.model) if outcome.model else None}))
        elif outcome.model is not None and outcome.model.already_bundled:
            print(f"{outcome.source}: already bundled as {outcome.model.id}; nothing copied")
        elif outcome.model is not None:
            m = outcome.model
            print(f"imported {m.id} ({m.kind}, {m.scale:g}×, {m.in_channels} channels) from {outcome.source}")
            for note in m.notes:
                print(f"  note: {note}")
        else:
            error = (outcome.error or "failed") + _import_hint(outcome.failure, several=args.path.is_dir())
            where = "" if str(outcome.source) in error else f"{outcome.source}: "
            print(f"pixup: {where}{error}", file=sys.stderr)
    return EXIT_OK if outcomes and all(o.model is not None for o in outcomes) else EXIT_FAILED


# The library's errors say what is wrong; how to fix it with this command's flags is said here, by
# the failure's code.
_HINTS: dict[FailureCode, str] = {
    "output_exists": "use --overwrite to replace it",
    "output_is_input": "use -o or another --name",
    "too_large": "use --allow-large to read it anyway",
    "unknown_model": "`pixup models list` shows them all",
}

_OUTPUT_FAILURES: frozenset[FailureCode] = frozenset(
    {"output_is_input", "unwritable", "disk_full", "encode_failed", "format_limit"})
"""Failures about the output file: its line names the output, once the file had one."""


def _hinted(line: str, code: FailureCode | None) -> str:
    """An error line with this command's remedy added, when it has one."""
    hint = _HINTS.get(code) if code is not None else None
    return f"{line}; {hint}" if hint else line


def _job_line(error: str, code: FailureCode | None) -> str:
    """Why a whole job failed, in one line."""
    return _hinted(f"internal error: {error}" if code == "internal" else error, code)


def _failure_line(result: FileResult) -> str:
    """A failed file in one line, worded from its code: the file it is about, what went wrong, the
    remedy."""
    code, error = result.error_code, result.error or "failed"
    if code == "output_exists" and result.output:
        line = f"{result.output} already exists"
    elif code in _OUTPUT_FAILURES and result.output:
        line = f"cannot write {result.output}: {error}"
    elif code == "internal":
        line = f"{result.input}: internal error: {error}"
    else:
        line = f"{result.input}: {error}"
    return _hinted(line, code)


def _import_hint(failure: PixupError | None, several: bool) -> str:
    """The remedy for an import that failed; `several`: a folder import, where --name cannot help."""
    if not isinstance(failure, ModelNameTakenError):
        return ""
    other_name = "" if several else "--name to import it under another name"
    if failure.bundled:
        return f"; use {other_name}" if other_name else ""
    return "; use --overwrite to replace it" + (f", or {other_name}" if other_name else "")


def _entry_dict(entry: object) -> dict[str, Any]:
    import dataclasses

    if dataclasses.is_dataclass(entry) and not isinstance(entry, type):
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(entry).items()}
    return dict(vars(entry))
