"""Using trained models outside training: the Predictor, person detections, images and videos,
export to ONNX / TorchScript, and import of published weights (official HRNet, SimCC, mmpose).

Every prediction goes through the model's one predict path (``posekit.models.predict``).
"""
