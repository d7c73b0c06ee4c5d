"""Identities across frames: ByteTrack (Zhang et al., "ByteTrack: Multi-Object Tracking by Associating Every
Detection Box", ECCV 2022) over one stream's Detections.

The association is the library's own: supervision's ByteTrack (MIT), its Kalman filter, its two rounds of
IoU matching (first the high-score detections, then the low-score ones against the tracks left over) and its
lost-track buffer. What this module adds is what a deployed stream needs around it:
- the low-score detections: ByteTrack's second association needs them, so the tracker reads every row above
  LOW_SCORE while it returns only the rows the user asked for (score_threshold), each with its id;
- the id of each detection exactly, not by re-matching boxes afterwards (supervision's
  `update_with_detections` re-matches the Kalman boxes to the detections by IoU, which can swap two
  overlapping objects of one size: the very case of two crossing objects);
- an id from the first frame an object is seen (ByteTrack confirms a new track on its second frame; until
  then supervision gives it none, so a drawn object would flicker without a label);
- time: a frame index that jumps (a live source dropped frames) ages the tracks by the frames missed, so a
  drop is a gap in time and not a reset.

Association by mask IoU is not used: see benchmarks/results/tracking.md for what was measured.
"""
from __future__ import annotations

import warnings

import numpy as np

from . import SCORE_THRESHOLD
from .detections import Detections

LOW_SCORE = 0.1  # ByteTrack's low threshold (the paper's, and supervision's fixed `scores > 0.1`)
LOST_FRAMES = 30  # ByteTrack's track buffer: frames a lost track waits to be found again
MATCH_THRESHOLD = 0.8  # first association: a match needs 1 - IoU x score <= this (ByteTrack's 0.8)
# A detection's index rides in the low bits of its score through the library, which copies a matched
# detection's score onto its track as it is. Float32 scores above LOW_SCORE are multiples of 2**-27, so
# i * 2**-40 (i < 2**13) never reaches the next float32 value and never changes a threshold's decision.
_TAG = 2.0 ** -40
_MAX_TAGGED = 2 ** 13


def _byte_track(high_score: float, lost_frames: int, match_threshold: float):
    """supervision's ByteTrack. It is deprecated in supervision 0.28-0.30 in favour of the `trackers` package,
    whose wheel requires opencv-python (which would overwrite opencv-python-headless's cv2): the pinned
    supervision (<0.31) stays, and its notice is silenced here, where we chose it knowingly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from supervision.tracker.byte_tracker.core import ByteTrack

        return ByteTrack(track_activation_threshold=high_score, lost_track_buffer=lost_frames,
                         minimum_matching_threshold=match_threshold, frame_rate=30)


class Tracker:
    """One stream's identities. `tracker.update(dets, frame_index)` -> the detections scoring at least
    `score_threshold`, with `track_ids` set (int64 [N], 1, 2, ... in order of first appearance).

    Give it the model's detections down to LOW_SCORE (a Predictor with score_threshold=LOW_SCORE): ByteTrack
    keeps a track alive through a partial occlusion with them. A detection at or above score_threshold starts
    a track when no track takes it, so every returned detection has an id (-1 only for a box with no area,
    which ByteTrack refuses).

    score_threshold: what the caller draws and writes; ByteTrack's high threshold is 0.1 below it, so a track
      is continued by a detection just under the line, and a new track needs one on it.
    lost_frames: how long a track that lost its object waits for it (frames).
    """

    def __init__(self, score_threshold: float = SCORE_THRESHOLD, *, low_score: float = LOW_SCORE,
                 lost_frames: int = LOST_FRAMES, match_threshold: float = MATCH_THRESHOLD):
        self.score_threshold, self.low_score, self.lost_frames = score_threshold, low_score, lost_frames
        high = max(score_threshold - 0.1, low_score)
        self._byte = _byte_track(high, lost_frames, match_threshold)
        # ByteTrack's birth threshold is its high threshold + 0.1: here exactly the caller's threshold
        self._byte.det_thresh = max(score_threshold, high)
        self._ids: dict[int, int] = {}  # the library's internal track id -> ours
        self._last_frame: int | None = None

    def reset(self) -> None:
        """Forget every track (a new video); ids start again at 1."""
        self.__init__(self.score_threshold, low_score=self.low_score, lost_frames=self.lost_frames,
                      match_threshold=self._byte.minimum_matching_threshold)

    def update(self, dets: Detections, frame_index: int | None = None) -> Detections:
        """The detections of the next frame (frame_index: the source's own frame number; a jump of k ages
        every track by k frames) -> those at or above score_threshold, each with its track id."""
        self._advance_to(frame_index)
        fed = np.flatnonzero(dets.scores > self.low_score)[:_MAX_TAGGED]
        tagged = dets.scores[fed].astype(np.float64) + np.arange(len(fed)) * _TAG
        self._byte.update_with_tensors(np.hstack([dets.boxes[fed].astype(np.float64), tagged[:, None]]))
        track_ids = np.full(len(dets), -1, np.int64)
        row_of = {float(score): int(row) for score, row in zip(tagged, fed)}
        for track in self._byte.tracked_tracks:
            row = row_of.get(float(track.score)) if track.frame_id == self._byte.frame_id else None
            if row is not None:  # a track updated on this frame, by the detection whose tag it carries
                track_ids[row] = self._ids.setdefault(track.internal_track_id, len(self._ids) + 1)
        shown = np.flatnonzero(dets.scores >= self.score_threshold)
        return dets.subset(shown, track_ids=track_ids[shown])

    def _advance_to(self, frame_index: int | None) -> None:
        """Frames the source dropped are frames with nothing seen: every track is predicted through them
        and ages, as in a detector's empty frames. Past the lost buffer every track is gone anyway."""
        if frame_index is not None and self._last_frame is not None:
            missed = min(frame_index - self._last_frame - 1, self.lost_frames + 1)
            for _ in range(max(missed, 0)):
                self._byte.update_with_tensors(np.zeros((0, 5)))
        if frame_index is not None:
            self._last_frame = frame_index
        elif self._last_frame is not None:
            self._last_frame += 1


def tracked_threshold(score_threshold: float, track: bool) -> float:
    """The predictor's own threshold for a run: with tracking, down to LOW_SCORE, since ByteTrack's second
    association reads the detections below the user's line (the tracker returns only those above it)."""
    return min(score_threshold, LOW_SCORE) if track else score_threshold


def check_track_options(track: bool, mot: str | None) -> None:
    from ..errors import UserError

    if mot and not track:
        raise UserError(f"--mot {mot} writes each detection's track id, and this run does not track: add --track")
