"""The Textual app of the workbench: one module per screen, widgets in `screens/widgets/`.

- `app.py`         WorkbenchApp: navigation between screens, keys, one RunWatcher per run
- `run_watcher.py` tails a run's events.jsonl and posts the messages in `messages.py`
- `setup.py`, `train.py`, `results.py`, `runs.py`, `compare.py`: the screens
- `dialogs.py`     confirmations (cancel, delete, quit while a run is going)
- `base.py`        WorkbenchScreen: hands worker failures to the app (they don't bubble)

Screens show `widgets.header.WorkbenchHeader()` at the top and `widgets.footer.WorkbenchFooter()`
(a Footer that rebuilds only when its keys change) at the bottom.
Nothing here trains: screens call `workbench` (the core) and render what it returns.
"""
