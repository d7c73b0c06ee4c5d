"""Inference backends behind one interface: `.infer(images uint8 [B,3,H,W]) -> dict of output arrays`."""
