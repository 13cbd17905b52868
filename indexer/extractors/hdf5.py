"""HDF5 via h5py (datasets, shapes, root attributes) and AnnData .h5ad (cells × genes, obs
columns and their categories: samples, cell types). Matrices are never loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from indexer.extractors import sniff
from indexer.extractors.base import Summary
from indexer.extractors.common import listing, plural
from labsearch import identifiers

MAX_DATASETS = 200
MAX_CATEGORIES = 100
SAMPLE_COLUMNS = ("sample", "sample_id", "sample_name", "samples")
CELL_TYPE_COLUMNS = ("cell_type", "celltype", "cell_types", "annotation")
NORMALIZED_UNS = ("organism", "assay", "project", "experiment_id", "run_id", "lab", "instrument")


def _scalar(value: Any) -> Any:
    if hasattr(value, "item") and getattr(value, "size", 2) == 1:
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return value if isinstance(value, str | int | float | bool) else None


def summarize(path: Path) -> Summary:
    import h5py

    summary = Summary(format="h5ad" if sniff.format_from_name(path.name) == "h5ad" else "hdf5")
    try:
        with h5py.File(path, "r") as handle:
            is_anndata = _scalar(handle.attrs.get("encoding-type")) == "anndata"
            datasets: list[dict[str, Any]] = []

            def visit(name: str, obj: Any) -> None:
                if isinstance(obj, h5py.Dataset) and len(datasets) < MAX_DATASETS:
                    datasets.append(
                        {"name": name, "shape": list(obj.shape), "dtype": str(obj.dtype)}
                    )

            if not is_anndata:
                handle.visititems(visit)
            attrs = {
                str(k): v
                for k, v in ((k, _scalar(v)) for k, v in handle.attrs.items())
                if v is not None
            }
    except Exception as exc:  # h5py raises OSError for truncated/non-HDF5, others for odd files
        summary.errors.append(
            f"unreadable HDF5: {path.name}: {exc}; the file is damaged, cut short or not HDF5"
        )
        summary.text = (
            f"{'AnnData' if summary.format == 'h5ad' else 'HDF5'} file {path.name} (unreadable)"
        )
        return summary
    if is_anndata or sniff.format_from_name(path.name) == "h5ad":
        return _anndata(path, summary)
    metadata: dict[str, Any] = {
        "datasets": datasets,
        "n_datasets": len(datasets),
        "attributes": attrs,
    }
    if isinstance(attrs.get("instrument"), str):
        metadata["instrument"] = attrs["instrument"]
    summary.metadata = metadata
    summary.identifiers = identifiers.from_metadata(attrs)
    shown = [
        f"{d['name']} ({'×'.join(map(str, d['shape'])) or 'scalar'} {d['dtype']})" for d in datasets
    ]
    summary.text = (
        f"HDF5 file {path.name} with {plural(len(datasets), 'dataset')}: {listing(shown, 15)}"
    )
    if attrs:
        summary.text += f"; attributes {listing((f'{k}={v}' for k, v in attrs.items()), 15)}"
    summary.text += "."
    return summary


def _anndata(path: Path, summary: Summary) -> Summary:
    import anndata

    summary.format = "h5ad"
    try:
        adata = anndata.read_h5ad(path, backed="r")  # X stays on disk
    except Exception as exc:
        summary.errors.append(f"unreadable AnnData: {path.name}: {type(exc).__name__}: {exc}")
        summary.text = f"AnnData file {path.name} (unreadable)"
        return summary
    try:
        obs_categories = {
            str(column): [str(c) for c in adata.obs[column].cat.categories[:MAX_CATEGORIES]]
            for column in adata.obs.columns
            if str(adata.obs[column].dtype) == "category"
        }
        metadata: dict[str, Any] = {
            "n_obs": int(adata.n_obs),
            "n_vars": int(adata.n_vars),
            "obs_columns": [str(c) for c in adata.obs.columns],
            "obs_categories": obs_categories,
            "var_columns": [str(c) for c in adata.var.columns],
            "var_names_head": [str(v) for v in adata.var_names[:20]],
            "layers": list(adata.layers.keys()),
            "obsm": list(adata.obsm.keys()),
            "uns": [str(k) for k in adata.uns][:50],
        }
        for key in NORMALIZED_UNS:
            if isinstance(value := _scalar(adata.uns.get(key)), str):
                metadata[key] = value
    finally:
        adata.file.close()
    for column in SAMPLE_COLUMNS:
        if column in obs_categories:
            metadata["samples"] = obs_categories[column]
            break
    for column in CELL_TYPE_COLUMNS:
        if column in obs_categories:
            metadata["cell_types"] = obs_categories[column]
            break
    summary.metadata = metadata
    summary.identifiers = identifiers.collect(metadata.get("samples", []))
    columns = [
        f"{c} ({listing(obs_categories[c], 8)})" if c in obs_categories else c
        for c in metadata["obs_columns"]
    ]
    summary.text = (
        f"AnnData (h5ad) {path.name}: {metadata['n_obs']:,} cells × {metadata['n_vars']:,} genes; "
        f"obs columns {listing(columns, 20)}; genes e.g. {listing(metadata['var_names_head'], 8)}"
        + (f"; organism {metadata['organism']}" if "organism" in metadata else "")
        + "."
    )
    return summary
