"""Clips: ``stylize_video``, the stabilizers that keep frames from flickering, optical flow, and the
warping error that measures it. PyAV and OpenCV (the [video] extra) are imported only when used."""
