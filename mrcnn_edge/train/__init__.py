"""Training, beside the chain (above model/ and eval/; no stage imports it): the synthetic sets the shipped
models come from (synthetic.py), and a user's COCO-format set (coco.py)."""
