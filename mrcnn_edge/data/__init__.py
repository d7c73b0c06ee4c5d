"""The synthetic shapes data set and its COCO-format export."""
