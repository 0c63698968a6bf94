"""tlwb core: configuration, data, models, training and the run store.

Nothing in this package imports textual; heavy libraries (torch, transformers, datasets, peft)
are imported inside the functions that need them so that `tlwb --help` stays instant.
"""

__version__ = "0.1.0"
