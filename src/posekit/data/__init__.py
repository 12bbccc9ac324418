"""Data: annotation formats -> person records -> top-down samples -> DataModules.

``formats/`` reads each data set's files into :class:`~posekit.data.records.PersonRecord`;
``topdown.TopDownDataset`` crops a record with one affine warp and encodes the codec's targets
(the batch contract of :mod:`posekit.core.batch`); the DataModules in ``coco.py`` and
``mpii.py`` build loaders and the metrics their data config names. Data never imports models,
metrics or the engine.
"""
