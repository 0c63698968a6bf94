"""The presets tlwb ships (installed as the `tlwb_presets` package, data only: TOML presets and
the small demo datasets they name under `data/`)."""
