"""Commands that train a run on several processes or machines: torchrun lines and Slurm scripts.

tlwb launches one node itself (`training.nproc = N` goes through torchrun, see
`workbench.trainer.launcher`). Several nodes need a command started on every node with a common
rendezvous, which a cluster's scheduler does; so for those tlwb writes the run directory (the
resolved `config.toml`, on a filesystem every node sees) and prints what to run:

- `torchrun_command`: the torchrun line for each node (`--standalone` on one node);
- `slurm_script`: an `sbatch` script that starts that line on every node of the allocation.

Every rank runs the ordinary training process (`python -m workbench.trainer RUN_DIR`); rank 0
writes the run directory, so `tlwb attach`, `tlwb show` and the TUI follow the run as usual.
"""

from __future__ import annotations

import shlex
from pathlib import Path

#: The rendezvous port on the first node.
RENDEZVOUS_PORT = 29500


def torchrun_command(run_dir: Path, nproc: int, nnodes: int = 1, *, endpoint: str | None = None,
                     rendezvous_id: str | None = None, resume: bool = False) -> list[str]:
    """torchrun's argv for one node of the run in `run_dir`. On several nodes the rendezvous is
    c10d at `endpoint` (default `$MASTER_ADDR:29500`, set it on every node) with the run id as
    the rendezvous id, so two runs never join each other."""
    command = ["torchrun"]
    if nnodes == 1:
        command.append("--standalone")
    else:
        command += [
            "--nnodes", str(nnodes), "--rdzv-backend", "c10d",
            "--rdzv-endpoint", endpoint or f"$MASTER_ADDR:{RENDEZVOUS_PORT}",
            "--rdzv-id", rendezvous_id or run_dir.name,
        ]
    command += ["--nproc-per-node", str(nproc), "-m", "workbench.trainer", str(run_dir)]
    return command + (["--resume"] if resume else [])


def shell_line(argv: list[str]) -> str:
    """A shell line for `argv`; words holding `$VARIABLES` are double-quoted so the shell expands them."""
    return " ".join(f'"{word}"' if "$" in word else shlex.quote(word) for word in argv)


def slurm_script(run_dir: Path, nproc: int, nnodes: int, *, job_name: str, time_limit: str = "24:00:00") -> str:
    """An `sbatch` script training the run in `run_dir` on `nnodes` nodes × `nproc` GPUs each:
    one task per node, each a torchrun of `nproc` ranks meeting at the allocation's first node."""
    command = torchrun_command(
        run_dir, nproc, nnodes if nnodes > 1 else 2,  # always a rendezvous: Slurm picks the nodes
        endpoint=f"$HEAD_NODE:{RENDEZVOUS_PORT}", rendezvous_id="$SLURM_JOB_ID",
    )
    command[command.index("--nnodes") + 1] = "$SLURM_NNODES"
    return "\n".join([
        "#!/bin/bash",
        f"#SBATCH --job-name={job_name}",
        f"#SBATCH --nodes={nnodes}",
        "#SBATCH --ntasks-per-node=1",
        f"#SBATCH --gpus-per-node={nproc}",
        f"#SBATCH --time={time_limit}",
        f"#SBATCH --output={run_dir}/slurm-%j.log",
        f"# Trains the tlwb run {run_dir.name} (its config.toml is in {run_dir}) on {nnodes} node(s) x {nproc} GPU(s).",
        "# The run directory must be on a filesystem every node sees. Follow it with: tlwb attach " + run_dir.name,
        "# To continue from its last checkpoint after a failure: TLWB_RESUME=--resume sbatch <this script>",
        "set -euo pipefail",
        'HEAD_NODE=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        "export HEAD_NODE",
        "export TOKENIZERS_PARALLELISM=false",
        "srun --kill-on-bad-exit=1 " + shell_line(command) + " ${TLWB_RESUME:-}",
        "",
    ])


def job_name(run_dir: Path) -> str:
    return "tlwb-" + run_dir.name.split("_", 2)[-1][:40]


def prepare_launch(config, runs_dir: Path, *, nproc: int, nnodes: int, slurm: bool) -> tuple[Path, str]:
    """Write the run directory for `config` (not launched: the scheduler or the user starts it)
    and return it with the torchrun line or the Slurm script that trains it."""
    from .runner import create_run

    config = config.model_copy(update={"training": config.training.model_copy(update={"nproc": nproc})})
    run = create_run(config, runs_dir)
    how = "sbatch" if slurm else "torchrun"
    run.write_status(state="starting", external_launch=how, message=f"written for {how}; not started yet",
                     hint=f"start it with the {how} command that `tlwb launch-script` printed")
    text = slurm_script(run.path, nproc, nnodes, job_name=job_name(run.path)) if slurm else shell_line(torchrun_command(run.path, nproc, nnodes))
    return run.path, text
