"""Run and sweep folders (best checkpoints, names, descriptions) and comparison tables."""
