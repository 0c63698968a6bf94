"""The training process: what runs inside `python -m workbench.trainer RUN_DIR`.

It imports only the core (`workbench.*` outside `trainer/` and `cli/`), never the UI or the CLI:
- `main`: the entry point; one attempt after another (a smaller batch after an OOM with auto_batch)
- `session`: the Trainer set-up for one run, from config to saved model
- `callback`: the Trainer's progress, evaluations and checkpoints as events
- `ranks`: torchrun's environment and what each rank may write
- `launcher`: `python -m workbench.trainer.launcher`, torchrun for `training.nproc > 1`
- `failures`: a run's single `failed` event (oom, disk, crash …) and each rank's record of one
- `cancellation`: SIGTERM/SIGINT caught from the first instant
- `tracking`: `training.report_to` handed to the Trainer's integrations
"""
