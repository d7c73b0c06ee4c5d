"""The synthetic data: the shapes set, the figures set (keypoints), their COCO-format export, and
synthetic videos of either."""
