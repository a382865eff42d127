"""The analysis stages: one module per kind of work, each an async function
``stage(ctx) -> output`` that raises StageSkipped (with the reason) when it
has nothing to do and a StageError when it fails. ``plan`` picks the stages a
request's media type and options call for."""
