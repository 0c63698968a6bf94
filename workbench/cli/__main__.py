"""`python -m workbench.cli …`, the same as `tlwb …`."""

from .commands import main

main()
