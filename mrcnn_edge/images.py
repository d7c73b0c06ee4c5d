"""Image files -> RGB uint8 frames as a viewer shows them, and the image files of a folder or glob.

The one image decoder of the toolkit: runtime sources, calibration data and evaluation all read
through it, so a photo looks the same to each. Pillow decodes, because OpenCV's `IMREAD_UNCHANGED`
ignores EXIF orientation (a phone photo would be read sideways) and `IMREAD_COLOR` hides what it
converted. Every conversion (EXIF rotation, grey, palette, CMYK, 16 bits, alpha) is made and noted
once per kind. Transparent pixels are composited over white, as a web page or document shows a
transparent PNG; the note says so, since what lies behind them changes what the model sees.
"""
from __future__ import annotations

import glob
import os

import numpy as np

from .errors import UserError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
_EXIF_ORIENTATION = 0x0112
# Pillow mode -> (note kind, note text): converted to RGB by Pillow's own conversion.
_CONVERTED = {
    "L": ("grey", "greyscale images are converted to RGB, grey in all three channels"),
    "1": ("grey", "greyscale images are converted to RGB, grey in all three channels"),
    "P": ("palette", "palette images are converted to RGB through their palette"),
    "CMYK": ("cmyk", "CMYK images are converted to RGB"),
    "YCbCr": ("ycbcr", "YCbCr images are converted to RGB"),
}


def image_paths(spec: str) -> list[str]:
    """The image files of a folder, or those a glob matches, sorted; [] when there are none."""
    pattern = os.path.join(spec, "*") if os.path.isdir(spec) else spec
    return sorted(p for p in glob.glob(pattern) if p.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(p))


def read_image(path: str, notes: dict[str, str] | None = None) -> np.ndarray:
    """Decode an image file as RGB uint8 [H,W,3], upright as its EXIF orientation says.

    notes (kind -> message) collects the conversions made, the first file of each kind named.
    Raises UserError naming the file for anything that is not a readable, opaque image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    notes = {} if notes is None else notes
    try:
        with Image.open(path) as image:
            image.load()
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
            upright = ImageOps.exif_transpose(image) if orientation != 1 else image
            if orientation != 1:
                notes.setdefault("exif", f"EXIF orientation is applied, as viewers do (first: {path})")
            return _to_rgb(upright, path, notes)
    except FileNotFoundError:
        raise UserError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:  # Pillow's ways of saying "corrupt"
        raise UserError(f"cannot decode image {path}: the file is corrupt, truncated or not an image "
                        f"({type(e).__name__})") from None


def _to_rgb(image, path: str, notes: dict[str, str]) -> np.ndarray:
    mode = image.mode
    if mode == "P" and "transparency" in image.info:
        image, mode = image.convert("RGBA"), "RGBA"
        notes.setdefault("palette", f"palette images are converted to RGB through their palette (first: {path})")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(image.convert("RGBA"))
        alpha = rgba[..., 3:].astype(np.float32) / 255.0
        if (alpha < 1).any():
            notes.setdefault("transparent", "transparent pixels are composited over white, as a page shows them; "
                             f"flatten the file onto another background if you mean one (first: {path})")
            return np.round(rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
        notes.setdefault("alpha", f"fully opaque alpha channels are dropped (first: {path})")
        return np.ascontiguousarray(rgba[..., :3])
    if mode.startswith("I;16") or mode == "I":
        notes.setdefault("16bit", f"16-bit images are scaled to 8 bits (first: {path})")
        grey = (np.asarray(image).astype(np.uint32) >> 8).clip(0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode in _CONVERTED:
        kind, text = _CONVERTED[mode]
        notes.setdefault(kind, f"{text} (first: {path})")
        return np.ascontiguousarray(np.asarray(image.convert("RGB")))
    if mode != "RGB":
        raise UserError(f"{path} has {mode} pixels: convert it to an 8-bit RGB or greyscale image")
    return np.ascontiguousarray(np.asarray(image))


def readable_images(paths, skipped: list | None, notes: dict[str, str] | None = None):
    """(path, RGB image) for each path that decodes, lazily. One that does not goes to `skipped` as
    (path, why), so a batch never dies on one file; with skipped None (--strict) its UserError is raised."""
    for path in paths:
        try:
            image = read_image(path, notes)
        except UserError as e:
            if skipped is None:
                raise
            skipped.append((path, str(e)))
            continue
        yield path, image


def skipped_lines(skipped: list[tuple[str, str]], shown: int = 10) -> list[str]:
    """The summary's lines for skipped files: how many, then each (up to `shown`) with why."""
    if not skipped:
        return []
    lines = [f"skipped {len(skipped)} unreadable file{'s' if len(skipped) > 1 else ''} (--strict makes this an error):"]
    lines += [f"  {os.path.basename(path)}: {why}" for path, why in skipped[:shown]]
    return lines + ([f"  ... and {len(skipped) - shown} more (all in report.json)"] if len(skipped) > shown else [])
