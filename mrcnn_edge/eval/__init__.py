"""COCO box and mask AP of any model artifact."""
