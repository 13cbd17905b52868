"""TIFF and OME-TIFF via tifffile: shape, axes, dtype and, from OME-XML, channel names,
physical pixel sizes, microscope and acquisition date. Pixels are never read."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

from indexer.extractors.base import Summary
from indexer.extractors.common import listing, plural, quiet_logger
from labsearch import identifiers


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]  # OME-XML elements are namespaced by schema version


def _ome(xml: str) -> dict[str, Any]:
    root = ElementTree.fromstring(xml)
    found: dict[str, Any] = {"channels": []}
    for element in root.iter():
        tag, attrs = _local(element.tag), element.attrib
        if tag == "Image" and "image_name" not in found and attrs.get("Name"):
            found["image_name"] = attrs["Name"]
        elif tag == "AcquisitionDate" and element.text:
            found.setdefault("date", element.text.strip()[:10])
        elif tag == "Pixels" and "physical_size_x" not in found:
            for axis in "XYZ":
                if f"PhysicalSize{axis}" in attrs:
                    found[f"physical_size_{axis.lower()}"] = float(attrs[f"PhysicalSize{axis}"])
                    found[f"physical_size_{axis.lower()}_unit"] = attrs.get(
                        f"PhysicalSize{axis}Unit", "µm"
                    )
            for size in ("SizeC", "SizeZ", "SizeT"):
                if size in attrs:
                    found[size.lower().replace("size", "size_")] = int(attrs[size])
        if tag == "Pixels":  # every image's planes, to notice pages lost to truncation
            found["planes"] = found.get("planes", 0) + int(attrs.get("SizeC", 1)) * int(
                attrs.get("SizeZ", 1)
            ) * int(attrs.get("SizeT", 1))
        elif tag == "Channel":
            found["channels"].append(
                attrs.get("Name") or attrs.get("Fluor") or attrs.get("ID", "?")
            )
        elif tag == "Microscope":
            model = " ".join(filter(None, (attrs.get("Manufacturer"), attrs.get("Model"))))
            if model:
                found["instrument"] = model
        elif tag == "Objective" and attrs.get("NominalMagnification"):
            found["objective"] = f"{float(attrs['NominalMagnification']):g}x" + (
                f" NA {attrs['LensNA']}" if attrs.get("LensNA") else ""
            )
    return found


def _missing_pixel_bytes(tif: Any, size: int) -> int:
    """How far the pixel data (strips/tiles of every page) reaches past the end of the file."""
    end = 0
    for page in tif.pages:
        offsets = getattr(page, "dataoffsets", ()) or ()
        counts = getattr(page, "databytecounts", ()) or ()
        end = max([end, *(o + c for o, c in zip(offsets, counts, strict=False))])
    return max(0, end - size)


def summarize(path: Path) -> Summary:
    import tifffile

    summary = Summary(format="tiff")
    try:
        with quiet_logger("tifffile") as damage, tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            metadata: dict[str, Any] = {
                "shape": list(series.shape),
                "axes": series.axes,
                "dtype": str(series.dtype),
                "pages": len(tif.pages),
                "series": len(tif.series),
                "ome": bool(tif.is_ome),
            }
            page = tif.pages.first
            if missing := _missing_pixel_bytes(tif, path.stat().st_size):
                summary.errors.append(
                    f"truncated TIFF: {path.name} ends {missing:,} bytes before the end of its "
                    "pixel data (an interrupted copy?); copy it again from the microscope or store"
                )
            if tif.is_ome and tif.ome_metadata:
                try:
                    metadata |= _ome(tif.ome_metadata)
                except ElementTree.ParseError as exc:
                    summary.errors.append(f"invalid OME-XML in {path.name}: {exc}")
                planes = metadata.get("planes", 0)
                if planes > len(tif.pages) and not summary.errors:
                    summary.errors.append(
                        f"truncated or damaged TIFF: the OME-XML of {path.name} describes "
                        f"{planes} planes but only {len(tif.pages)} can be read; copy it again"
                    )
            else:
                for tag in ("Software", "ImageDescription", "DateTime"):
                    value = page.tags.get(tag)
                    if value is not None and isinstance(value.value, str) and value.value.strip():
                        metadata[tag.lower()] = value.value.strip()[:300]
    except Exception as exc:  # tifffile raises TiffFileError, ValueError, struct.error...
        summary.errors.append(
            f"unreadable TIFF: {path.name}: {type(exc).__name__}: {exc}; the file is damaged or "
            "not a TIFF"
        )
        summary.text = f"TIFF image {path.name} (unreadable)"
        return summary
    if damage and not summary.errors:  # tifffile skips what it cannot read and logs it
        summary.errors.append(
            f"damaged TIFF: {path.name}: {damage[0]} (cut short or overwritten?); only the "
            "readable part was summarized — copy it again"
        )
    summary.metadata = metadata
    summary.identifiers = identifiers.from_text(str(metadata.get("image_name", "")))
    summary.text = _describe(path, metadata)
    return summary


def _describe(path: Path, m: dict[str, Any]) -> str:
    kind = "OME-TIFF image" if m["ome"] else "TIFF image"
    name = f" '{m['image_name']}'" if m.get("image_name") else ""
    sizes = dict(zip(m["axes"], m["shape"], strict=False))
    dims = "×".join(str(sizes[a]) for a in "XY" if a in sizes) or "×".join(map(str, m["shape"]))
    parts = [f"{kind}{name} {path.name}: {dims} px, {m['dtype']}, axes {m['axes']}"]
    if m.get("channels"):
        parts.append(f"{plural(len(m['channels']), 'channel')} ({listing(m['channels'])})")
    if "physical_size_x" in m:
        unit = m.get("physical_size_x_unit", "µm")
        pixel = (
            f"{m['physical_size_x']:g}×{m.get('physical_size_y', m['physical_size_x']):g} {unit}"
        )
        parts.append(f"pixel size {pixel}")
    if "physical_size_z" in m:
        parts.append(f"z step {m['physical_size_z']:g} {m.get('physical_size_z_unit', 'µm')}")
    if m.get("instrument"):
        parts.append(f"microscope {m['instrument']}")
    if m.get("objective"):
        parts.append(f"objective {m['objective']}")
    if m.get("date"):
        parts.append(f"acquired {m['date']}")
    if m.get("software"):
        parts.append(f"software {m['software']}")
    return ", ".join(parts) + "."
