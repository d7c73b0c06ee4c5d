"""Architectures, checkpoints, training and the eager oracle (pipeline stage 1: model)."""
