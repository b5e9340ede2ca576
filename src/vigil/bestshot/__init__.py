"""Stage 4, best shot: pure quality scores and the per-track choice of the crops worth embedding."""

from vigil.bestshot.quality import face_quality, head_pose, is_better
from vigil.bestshot.selector import BestShotSelector, cut_shot

__all__ = ["BestShotSelector", "cut_shot", "face_quality", "head_pose", "is_better"]
