"""8c. Search by photo over the watchlists and the archive of past detections."""
