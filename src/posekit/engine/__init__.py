"""The engine: train and evaluate tasks, callbacks, resume, DDP inside Hydra, sweeps, EMA.

``train.py`` and ``eval.py`` call :func:`posekit.engine.tasks.train` and
:func:`posekit.engine.evaluate_many.evaluate_all`; everything here wires objects that the lower
layers define (data modules, the LightningModule, metrics) through Hydra and Lightning.
"""
