"""`tlwb`: the TUI with no subcommand, and the headless twins of every screen.

Nothing heavy is imported at module level: `tlwb --help` must answer instantly. Problems the
user can fix are `WorkbenchError`s, printed as one line with a hint, exit code 2.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperCommand, TyperGroup
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .. import humanize
from ..errors import WorkbenchError

class _FlagsWithoutTypes:
    """Flags take no value: help shows no `<bool>` type next to them (nor next to --help)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        for param in self.get_params(ctx):  # type: ignore[attr-defined]
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        super().format_help(ctx, formatter)  # type: ignore[misc]


class _Command(_FlagsWithoutTypes, TyperCommand):
    pass


class _Group(_FlagsWithoutTypes, TyperGroup):
    pass


app = typer.Typer(
    name="tlwb",
    help="The transfer-learning workbench: fine-tune Hugging Face models, full or LoRA.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    cls=_Group,
)


def command(*args: Any, **kwargs: Any) -> Any:
    """`app.command` with flags shown without a type (`_Command`)."""
    return app.command(*args, cls=_Command, **kwargs)

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

RunsDirOption = Annotated[
    Optional[Path],
    typer.Option("--runs-dir", envvar="TLWB_RUNS_DIR", help="Where runs live (default ./runs).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Also show the ML libraries' warnings, load reports and progress bars."),
]
SetOption = Annotated[
    Optional[list[str]],
    typer.Option("--set", "-s", help="Override a preset key, e.g. --set training.epochs=2 (repeatable).", show_default=False),
]


def _runs_dir(value: Path | None) -> Path:
    from ..runstore import default_runs_dir

    return Path(value) if value else default_runs_dir()


def _resolve(run: str, runs_dir: Path | None):
    from ..runstore import resolve_run

    return resolve_run(run, _runs_dir(runs_dir))


@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    runs_dir: RunsDirOption = None,
    preset: Annotated[Optional[str], typer.Option("--preset", help="Open Setup with this preset.")] = None,
    run: Annotated[Optional[str], typer.Option("--run", help="Open this run directly.")] = None,
) -> None:
    """With no command, open the workbench TUI."""
    if ctx.invoked_subcommand is not None:
        return
    from screens.app import run_app

    run_app(runs_dir=_runs_dir(runs_dir), preset=preset, run=run)


@command()
def train(
    preset: Annotated[str, typer.Argument(help="Preset name or path to a .toml file.")],
    overrides: SetOption = None,
    runs_dir: RunsDirOption = None,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Start the run and return at once.")] = False,
    no_preflight: Annotated[bool, typer.Option("--no-preflight", help="Launch without checking model, data and disk first.")] = False,
    nproc: Annotated[Optional[int], typer.Option("--nproc", min=1, help="Train on N processes (GPUs) with torchrun; sets training.nproc.", show_default=False)] = None,
    nnodes: Annotated[int, typer.Option("--nnodes", min=1, help="Machines: above 1, write the run and print the torchrun command to start on each.")] = 1,
    as_json: JsonOption = False,
) -> None:
    """Fine-tune a model as a preset describes; prints where the run went and its metrics."""
    from ..presets import load_config
    from ..runner import launch

    config = load_config(preset, [*(overrides or []), *([f"training.nproc={nproc}"] if nproc else [])])
    _warn_about(config)
    if not no_preflight:
        _preflight_or_exit(config, _runs_dir(runs_dir))
    if nnodes > 1:
        _print_launch(config, runs_dir, nproc=config.training.nproc, nnodes=nnodes, slurm=False)
        return
    run, process = launch(config, _runs_dir(runs_dir))
    if config.training.nproc > 1 and not as_json:
        from ..launch_script import shell_line, torchrun_command

        console.print(f"[dim]the same as: {shell_line(torchrun_command(run.path, config.training.nproc))}[/]", soft_wrap=True, markup=True)
    _report_launch(run, process, detach=detach, as_json=as_json, background=f"started [bold]{run.id}[/]", foreground=f"run [bold]{run.id}[/]")


@command("launch-script")
def launch_script(
    preset: Annotated[str, typer.Argument(help="Preset name or path to a .toml file.")],
    overrides: SetOption = None,
    runs_dir: RunsDirOption = None,
    slurm: Annotated[bool, typer.Option("--slurm", help="Print a Slurm sbatch script instead of a torchrun command.")] = False,
    nproc: Annotated[int, typer.Option("--nproc", min=1, help="Processes (GPUs) per machine.")] = 1,
    nnodes: Annotated[int, typer.Option("--nnodes", min=1, help="Machines.")] = 1,
    no_preflight: Annotated[bool, typer.Option("--no-preflight", help="Skip checking model, data and disk first.")] = False,
) -> None:
    """Write a run for PRESET and print the torchrun command (or sbatch script) that trains it."""
    from ..presets import load_config

    config = load_config(preset, [*(overrides or []), f"training.nproc={nproc}"])
    if not no_preflight:
        _preflight_or_exit(config, _runs_dir(runs_dir))
    _print_launch(config, runs_dir, nproc=nproc, nnodes=nnodes, slurm=slurm)


def _print_launch(config: Any, runs_dir: Path | None, *, nproc: int, nnodes: int, slurm: bool) -> None:
    """The run directory on stderr, the command or script alone on stdout (so it can be piped)."""
    from ..launch_script import prepare_launch

    path, text = prepare_launch(config, _runs_dir(runs_dir), nproc=nproc, nnodes=nnodes, slurm=slurm)
    err_console.print(f"wrote {path.name} → {path} (not started); {'submit this script with sbatch' if slurm else 'run this on every machine'}:", soft_wrap=True, highlight=False, markup=False)
    print(text)


def _report_launch(run: Any, process: Any, *, detach: bool, as_json: bool, background: str, foreground: str, start_offset: int = 0) -> None:
    """Say where a launched run went; then return at once (`--detach`) or follow it to its end."""
    if detach:
        if as_json:
            print(json.dumps({"run_id": run.id, "path": str(run.path), "pid": process.pid}))
        else:
            # soft_wrap: a long run id wraps where the terminal ends, and a copied line stays whole
            console.print(f"{background} in the background (pid {process.pid})", soft_wrap=True)
            console.print(f"follow it with: tlwb attach {run.id}", soft_wrap=True)
        return
    if not as_json:
        console.print(f"{foreground} → {run.path}")
    _follow_to_end(run, process=process, quiet=as_json, start_offset=start_offset)


def _preflight_or_exit(config: Any, runs_dir: Path) -> None:
    """Run pre-flight; print every problem one line each (with its hint) and exit 2 on errors."""
    from ..preflight import preflight

    report = preflight(config, runs_dir)
    for warning in report.warnings:
        if warning.kind != "remote_code":  # `_warn_about` has said it already
            _print_problem("warning", "yellow", warning)
    for error in report.errors:
        _print_problem("error", "bold red", error)
    if report.errors:
        raise typer.Exit(2)


def _print_problem(label: str, style: str, problem: WorkbenchError) -> None:
    from rich.markup import escape

    err_console.print(f"[{style}]{label}:[/] {escape(problem.message)}", soft_wrap=True)
    if problem.hint:
        err_console.print(f"  [dim]hint:[/] {escape(problem.hint)}", soft_wrap=True)


@command()
def resume(
    run: Annotated[str, typer.Argument(help="Run id or directory.")],
    runs_dir: RunsDirOption = None,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Resume in the background and return at once.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Continue a failed or cancelled run from its last checkpoint, in the same run directory."""
    from ..runner import resume as resume_run

    target = _resolve(run, runs_dir)
    offset = target.events_path.stat().st_size if target.events_path.exists() else 0
    process = resume_run(target)
    checkpoint = target.latest_checkpoint()
    origin = f"from {checkpoint.name if checkpoint else '?'}"
    _report_launch(target, process, detach=detach, as_json=as_json, start_offset=offset,
                   background=f"resumed [bold]{target.id}[/] {origin}", foreground=f"resuming [bold]{target.id}[/] {origin}")


@command()
def attach(run: Annotated[str, typer.Argument(help="Run id or directory.")], runs_dir: RunsDirOption = None) -> None:
    """Show a run's history so far and follow it live until it ends (Ctrl-C detaches)."""
    target = _resolve(run, runs_dir)
    console.print(f"run [bold]{target.id}[/] → {target.path}")
    _follow_to_end(target, detach_on_interrupt=True)


@command()
def cancel(run: Annotated[str, typer.Argument(help="Run id or directory.")], runs_dir: RunsDirOption = None) -> None:
    """Stop a running run cleanly: a checkpoint is saved and its state becomes `cancelled`."""
    from ..errors import RunError
    from ..runner import cancel as cancel_run

    target = _resolve(run, runs_dir)
    if not cancel_run(target):
        raise RunError(f"run {target.id} is not running (state: {target.status().get('state')})", "nothing to cancel")
    console.print(f"asked {target.id} to stop; it will save a checkpoint first")


def _follow_to_end(run: Any, *, process: Any = None, quiet: bool = False, detach_on_interrupt: bool = False, start_offset: int = 0) -> None:
    from ..runner import cancel as cancel_run
    from ..runner import follow
    from .progress import ConsoleProgress

    from ..events import to_json

    printer = ConsoleProgress(console, quiet=quiet, run=run)
    last: Any = None
    try:
        for event in follow(run, process=process, start_offset=start_offset):
            printer.handle(event)
            last = event
    except KeyboardInterrupt:
        if detach_on_interrupt:
            console.print(f"\ndetached; {run.id} keeps running (tlwb attach {run.id})")
            return
        console.print("\ncancelling: saving a checkpoint…")
        cancel_run(run)
        seen = run.events_path.stat().st_size if run.events_path.exists() else 0
        for event in follow(run, process=process, start_offset=seen):
            printer.handle(event)
            last = event
    printer.close()
    diagnostics = _diagnostics(run) if last is not None and last.type in ("finished", "failed", "cancelled") else []
    if quiet:
        final = {k: v for k, v in (to_json(last) if last is not None else {}).items() if k not in ("time", "v")}
        print(json.dumps({"run_id": run.id, "path": str(run.path), **final, "diagnostics": diagnostics}, default=str))
    else:
        from .report import print_diagnostics

        print_diagnostics(console, diagnostics)
    if last is None or last.type != "finished":
        raise typer.Exit(1)


def _quiet_libraries(verbose: bool) -> None:
    """Keep transformers, peft, datasets and the Hub quiet for one-off commands (predict, eval):
    their load reports (a base's fresh head is "MISSING" until the trained one is loaded right
    after), FutureWarnings and progress bars say nothing about the user's model. Called before
    those libraries are imported; `-v/--verbose` leaves them as they are."""
    if verbose:
        return
    import warnings

    for variable, value in (("TRANSFORMERS_VERBOSITY", "error"), ("DATASETS_VERBOSITY", "error"),
                            ("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("HF_DATASETS_DISABLE_PROGRESS_BARS", "1"),
                            ("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")):
        os.environ.setdefault(variable, value)
    for category in (FutureWarning, DeprecationWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category)
    if "transformers" in sys.modules:  # imported already (in-process callers): set it directly
        from transformers.utils import logging as transformers_logging

        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()


def _diagnostics(run: Any) -> list[dict[str, str]]:
    """The run's diagnostics (`workbench.diagnostics`) as `[{kind, message, hint}]`."""
    from ..diagnostics import diagnostics_of

    return diagnostics_of(run.history())


def _warn_about(config: Any) -> None:
    from ..preflight import remote_code_warning

    remote_code = remote_code_warning(config)
    if remote_code is not None:
        _print_problem("warning", "yellow", remote_code)
    if config.training.batching == "group_by_length":
        from ..config import GROUP_BY_LENGTH_WARNING

        err_console.print(f"[yellow]warning:[/] {escape(GROUP_BY_LENGTH_WARNING)}", soft_wrap=True)


@command("eval")
def evaluate(
    run: Annotated[str, typer.Argument(help="Run id or directory.")],
    data: Annotated[Path, typer.Option("--data", help="A labelled file with the run's columns.")],
    runs_dir: RunsDirOption = None,
    batch_size: Annotated[int, typer.Option(help="Evaluation batch size.")] = 64,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Score a finished run on any labelled file."""
    _quiet_libraries(verbose)
    from ..data import check_local_source
    from ..inference import load_run_model, saved_model_dir

    target = _resolve(run, runs_dir)
    saved_model_dir(target)
    check_local_source(str(data))  # a missing file is said before the model loads
    loaded = load_run_model(target, merge_adapter=True)
    result = loaded.task.score(loaded.model, loaded.tokenizer, loaded.config, str(data), loaded.label_values, batch_size)
    if as_json:
        print(json.dumps({**result.metrics, "per_class": result.per_class, "confusion_matrix": result.confusion_matrix, "labels": result.labels}))
        return
    from .report import metrics_tables

    for table in metrics_tables(result.metrics, result.per_class, result.confusion_matrix, result.labels):
        console.print(table)


@command()
def predict(
    run: Annotated[str, typer.Argument(help="Run id or directory.")],
    texts: Annotated[Optional[list[str]], typer.Argument(help="Texts to classify (or prompts to answer); read from stdin when none, one per line.")] = None,
    runs_dir: RunsDirOption = None,
    max_new_tokens: Annotated[Optional[int], typer.Option("--max-new-tokens", min=1, max=8192, help="Text generation: tokens to generate at most (default: the run's generation.max_new_tokens).")] = None,
    temperature: Annotated[Optional[float], typer.Option("--temperature", min=0.0, max=5.0, help="Text generation: 0 is greedy (the default), higher samples more freely.")] = None,
    progress: Annotated[Optional[bool], typer.Option("--progress/--no-progress", help="Rows done and rows/s on stderr (default: for long input on stdin, when stderr is a terminal).")] = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Predict labels for texts given as arguments or one per line on stdin (read and written a
    chunk at a time, so files of any length stream through); a text-generation run answers each
    prompt through its chat template, streaming the tokens."""
    _quiet_libraries(verbose)
    from ..inference import load_run_model
    from .predicting import CHUNK_ROWS, GENERATION_CHUNK_ROWS, TableWriter, predict_in_chunks, show_progress, stdin_lines

    from_stdin = not texts
    if from_stdin and sys.stdin.isatty():
        raise WorkbenchError("no texts to predict", 'give texts as arguments or pipe lines in: echo "great film" | tlwb predict RUN')
    target = _resolve(run, runs_dir)
    task = target.config().task
    generating = task == "text-generation"
    if not generating and (max_new_tokens is not None or temperature is not None):
        raise WorkbenchError("--max-new-tokens and --temperature apply to text-generation runs only",
                             f"run {target.id} is a {task} run: leave them out")
    loaded = load_run_model(target, merge_adapter=True)
    lines = stdin_lines(sys.stdin) if from_stdin else list(texts or [])
    if generating:
        overrides = {k: v for k, v in (("max_new_tokens", max_new_tokens), ("temperature", temperature)) if v is not None}
        loaded.config = loaded.config.model_copy(update={"generation": loaded.config.generation.model_copy(update=overrides)})
        if not as_json:
            _stream_answers(loaded, lines)
            return
    write = _write_json_lines if as_json else TableWriter(console, _prediction_names(loaded))
    chunk_rows = GENERATION_CHUNK_ROWS if generating else CHUNK_ROWS
    predict_in_chunks(loaded.predict, lines, write, show_progress(progress, from_stdin), chunk_rows)


def _write_json_lines(results: list[dict[str, Any]]) -> None:
    sys.stdout.write("".join(json.dumps(result, ensure_ascii=False) + "\n" for result in results))
    sys.stdout.flush()


def _prediction_names(loaded: Any) -> list[str]:
    """What the label (or entity type) column shows: the model's label names, B-/I- prefixes off."""
    names = [str(name) for name in getattr(loaded.model.config, "id2label", {}).values()]
    return sorted({name.split("-", 1)[1] if name[:2] in ("B-", "I-") else name for name in names})


def _stream_answers(loaded: Any, prompts: Iterable[str]) -> None:
    """Each prompt, then its answer written token by token as the model generates it."""
    from ..streaming import stream_reply

    chat = bool(getattr(loaded.tokenizer, "chat_template", None))
    for number, prompt in enumerate(prompts):
        if number:
            sys.stdout.write("\n")  # a blank line between one answer and the next prompt
        console.print(f"[bold]›[/] {escape(prompt)}")
        conversation: Any = [{"role": "user", "content": prompt}] if chat else prompt
        for piece in stream_reply(loaded, conversation, loaded.config.generation):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
        sys.stdout.flush()


@command()
def runs(runs_dir: RunsDirOption = None, as_json: JsonOption = False) -> None:
    """List runs: state, task, model, data, method, best metric, duration."""
    from dataclasses import asdict

    from ..run_summary import summarize
    from ..runstore import list_runs

    directory = _runs_dir(runs_dir)
    summaries = [summarize(run) for run in list_runs(directory)]
    if as_json:
        models = {run.id: run.trained_model_dir() for run in list_runs(directory)}
        print(json.dumps([{**asdict(s), "model_dir": models.get(s.id)} for s in summaries], default=str))
        return
    if not summaries:
        console.print(f"no runs in {directory} yet — start one with: tlwb train presets/quickstart.toml")
        return
    from .report import write_runs

    write_runs(console, summaries, title=f"{directory} · {len(summaries)} run{'s' if len(summaries) != 1 else ''}")


@command()
def show(
    run: Annotated[str, typer.Argument(help="Run id or directory.")],
    runs_dir: RunsDirOption = None,
    as_json: JsonOption = False,
    label_errors: Annotated[bool, typer.Option("--label-errors", help="Only the training rows that look mislabelled, most suspicious first.")] = False,
) -> None:
    """Everything about one run: config, status, last metrics."""
    from ..runinfo import run_details

    if label_errors:
        from .report import show_label_errors

        show_label_errors(console, _resolve(run, runs_dir), as_json=as_json)
        return
    payload = run_details(_resolve(run, runs_dir))
    if as_json:
        print(json.dumps(payload, default=str))
        return
    from .report import show_run

    show_run(console, payload)


@command()
def export(
    run: Annotated[str, typer.Argument(help="Run id or directory.")],
    out_dir: Annotated[Optional[Path], typer.Argument(help="Folder to write (created; must be empty unless --force).", show_default=False)] = None,
    merge: Annotated[bool, typer.Option("--merge", help="LoRA runs: fold the adapter into the base weights.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty OUT_DIR.")] = False,
    push_to_hub: Annotated[Optional[str], typer.Option("--push-to-hub", metavar="REPO", help="Also upload to this Hub repo (user/name).", show_default=False)] = None,
    private: Annotated[bool, typer.Option("--private", help="With --push-to-hub: create the repo private.")] = False,
    runs_dir: RunsDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a run's model for use without tlwb: transformers pipeline / peft formats and a model card."""
    from ..export import export_and_push, export_run

    target = _resolve(run, runs_dir)
    if push_to_hub:
        result = export_and_push(target, push_to_hub, out_dir=out_dir, merge=merge, force=force, private=private)
    elif out_dir is None:
        raise WorkbenchError("no OUT_DIR to export to", f"give a folder: tlwb export {run} ./my-model (or --push-to-hub user/name)")
    else:
        result = export_run(target, out_dir, merge=merge, force=force)
    if as_json:
        print(json.dumps({**result.__dict__, "out_dir": str(result.out_dir) if out_dir or not push_to_hub else None}, default=str))
        return
    for note in result.notes:
        err_console.print(f"[yellow]note:[/] {note}")
    if out_dir is not None:
        console.print(f"exported {target.id} ({result.kind}) → {result.out_dir}")
    if result.url:
        console.print(f"pushed to {result.url}")
    if result.kind == "adapter":
        console.print("load it with peft (see README.md there), or export with --merge for a plain transformers model")


@command()
def presets(as_json: JsonOption = False) -> None:
    """List shipped and user presets with their descriptions."""
    from ..presets import list_presets

    found = list_presets()
    if as_json:
        print(json.dumps([{"name": p.name, "path": str(p.path), "description": p.description, "origin": p.origin} for p in found]))
        return
    table = Table(title="presets", title_justify="left", box=None, header_style="bold")
    for column in ("name", "origin", "description"):
        table.add_column(column)
    for info in found:
        table.add_row(info.name, info.origin, info.description)
    console.print(table)


def main() -> None:
    """Console-script entry: one-line errors with exit code 2, never a traceback for bad input."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        # Without standalone mode click *returns* a typer.Exit's code instead of exiting with it.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except WorkbenchError as err:
        _print_problem("error", "bold red", err)
        sys.exit(err.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as err:
        if _is_usage_error(err):
            _print_usage_error(err)
            sys.exit(2)
        raise


def _is_usage_error(err: Exception) -> bool:
    """Click's own exceptions, from click or from the copy that typer vendors (`typer._click`)."""
    import click

    try:
        from typer._click.exceptions import ClickException as VendoredClickException
    except ImportError:  # a typer that uses click itself
        VendoredClickException = click.ClickException
    return isinstance(err, (click.ClickException, VendoredClickException))


def _print_usage_error(err: Any) -> None:
    """A wrong option or argument: one `error:` line and a `hint:` naming the command's --help."""
    context = getattr(err, "ctx", None)
    command = getattr(context, "command_path", None) or "tlwb"
    message = err.format_message() if hasattr(err, "format_message") else str(err)
    _print_problem("error", "bold red", WorkbenchError(message.rstrip(".").replace("\n", " "), f"see `{command} --help`"))

