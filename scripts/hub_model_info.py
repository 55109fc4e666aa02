#!/usr/bin/env python3
"""Print, as JSON, what huggingface_hub parses from a Hub (real or fake).

    hub_model_info.py ENDPOINT REPO_ID [REPO_ID...] [--datasets ID...]
                      [--search TEXT --limit N] [--expect-gated REPO_ID FILE]

For every REPO_ID: HfApi(endpoint=ENDPOINT).model_info(repo, files_metadata=True).
For every dataset: dataset_info(id, files_metadata=True).
With --search: list_models(search=TEXT, limit=N, full=True, cardData=True).
With --expect-gated: hf_hub_download(REPO_ID, FILE) without a token must raise
GatedRepoError (anything else is a failure).

Output: {"models": [...], "datasets": [...], "search": {...}, "gated_download": {...}}.
No token is ever sent (token=False). Exits non-zero on any exception.
"""

import argparse
import json
import sys
import tempfile


def card_dict(card):
    return card.to_dict() if card is not None else None


def siblings(items):
    if items is None:
        return None
    return [
        {
            "rfilename": s.rfilename,
            "size": s.size,
            "blob_id": s.blob_id,
            "lfs_sha256": s.lfs.sha256 if s.lfs is not None else None,
            "lfs_size": s.lfs.size if s.lfs is not None else None,
        }
        for s in items
    ]


def safetensors(info):
    st = info.safetensors
    if st is None:
        return None
    return {"parameters": dict(st.parameters), "total": st.total}


def model(info):
    return {
        "id": info.id,
        "author": info.author,
        "sha": info.sha,
        "private": info.private,
        "gated": info.gated,
        "disabled": info.disabled,
        "downloads": info.downloads,
        "likes": info.likes,
        "pipeline_tag": info.pipeline_tag,
        "library_name": info.library_name,
        "tags": info.tags,
        "card_data": card_dict(info.card_data),
        "config": info.config,
        "safetensors": safetensors(info),
        "used_storage": info.used_storage,
        "created_at": info.created_at.isoformat() if info.created_at else None,
        "last_modified": info.last_modified.isoformat() if info.last_modified else None,
        "siblings": siblings(info.siblings),
    }


def dataset(info):
    card = info.card_data
    return {
        "id": info.id,
        "author": info.author,
        "sha": info.sha,
        "gated": info.gated,
        "tags": info.tags,
        "description": info.description,
        "license": card.get("license") if card is not None else None,
        "card_data": card_dict(card),
        "siblings": siblings(info.siblings),
    }


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("endpoint")
    parser.add_argument("repos", nargs="*", metavar="REPO_ID")
    parser.add_argument("--datasets", nargs="+", default=[], metavar="ID")
    parser.add_argument("--search", metavar="TEXT")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--expect-gated", nargs=2, metavar=("REPO_ID", "FILE"))
    args = parser.parse_args(argv)

    import huggingface_hub
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import GatedRepoError

    api = HfApi(endpoint=args.endpoint, token=False)
    out = {"huggingface_hub": huggingface_hub.__version__, "models": [], "datasets": []}
    for repo in args.repos:
        out["models"].append(model(api.model_info(repo, files_metadata=True, token=False)))
    for repo in args.datasets:
        out["datasets"].append(dataset(api.dataset_info(repo, files_metadata=True, token=False)))
    if args.search is not None:
        found = list(
            api.list_models(
                search=args.search,
                limit=args.limit,
                full=True,
                cardData=True,
                token=False,
            )
        )
        out["search"] = {
            "ids": [m.id for m in found],
            "downloads": [m.downloads for m in found],
            "models": [
                {
                    "id": m.id,
                    "sha": m.sha,
                    "gated": m.gated,
                    "tags": m.tags,
                    "pipeline_tag": m.pipeline_tag,
                    "library_name": m.library_name,
                    "card_data": card_dict(m.card_data),
                    "siblings": siblings(m.siblings),
                }
                for m in found
            ],
        }
    if args.expect_gated:
        repo, filename = args.expect_gated
        with tempfile.TemporaryDirectory() as cache:
            try:
                path = hf_hub_download(
                    repo, filename, cache_dir=cache, endpoint=args.endpoint, token=False
                )
            except GatedRepoError as e:
                out["gated_download"] = {"repo": repo, "file": filename, "error": type(e).__name__}
            else:
                raise SystemExit(f"hf_hub_download({repo!r}, {filename!r}) succeeded without a token: {path}")
    json.dump(out, sys.stdout, indent=1, sort_keys=True, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
