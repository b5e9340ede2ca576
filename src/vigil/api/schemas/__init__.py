"""Request and response models: ``XCreate``/``XUpdate`` in (unknown keys refused), ``XPublic`` out."""
