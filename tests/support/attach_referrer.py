"""Attach a file to a manifest as an OCI 1.1 referrer, the way a registry
without the referrers API expects (the referrers tag schema): upload the file
and the empty config, put a manifest whose `subject` is the model's manifest,
and list it in the image index tagged `sha256-<hex>`. Written independently of
zoo (standard library HTTP only), so zoo's reading is checked against another
writer.

usage: attach_referrer.py http://HOST REPO SUBJECT_DIGEST SUBJECT_SIZE FILE ARTIFACT_TYPE
"""
import hashlib
import json
import sys
import urllib.error
import urllib.request

base, repo, subject, subject_size, path, artifact_type = sys.argv[1:]
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"


def request(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req) as resp:
        return resp.status, dict(resp.headers), resp.read()


def upload(data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _, headers, _ = request("POST", f"{base}/v2/{repo}/blobs/uploads/")
    location = headers["Location"]
    if location.startswith("/"):
        location = base + location
    sep = "&" if "?" in location else "?"
    request("PUT", f"{location}{sep}digest={digest}", data,
            {"Content-Type": "application/octet-stream"})
    return {"digest": digest, "size": len(data)}


with open(path, "rb") as f:
    payload = f.read()
layer = upload(payload)
config = upload(b"{}")
manifest = {
    "schemaVersion": 2,
    "mediaType": MANIFEST,
    "artifactType": artifact_type,
    "config": {"mediaType": "application/vnd.oci.empty.v1+json", **config},
    "layers": [{"mediaType": artifact_type, **layer,
                "annotations": {"org.opencontainers.image.title": "model.sig"}}],
    "subject": {"mediaType": MANIFEST, "digest": subject, "size": int(subject_size)},
}
body = json.dumps(manifest).encode()
digest = "sha256:" + hashlib.sha256(body).hexdigest()
_, headers, _ = request("PUT", f"{base}/v2/{repo}/manifests/{digest}", body,
                        {"Content-Type": MANIFEST})
if "OCI-Subject" not in headers:
    tag = subject.replace(":", "-")
    try:
        _, _, old = request("GET", f"{base}/v2/{repo}/manifests/{tag}",
                            headers={"Accept": INDEX})
        index = json.loads(old)
    except urllib.error.HTTPError as e:
        if e.code != 404:
            raise
        index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": []}
    index["manifests"].append({"mediaType": MANIFEST, "digest": digest,
                               "size": len(body), "artifactType": artifact_type})
    request("PUT", f"{base}/v2/{repo}/manifests/{tag}", json.dumps(index).encode(),
            {"Content-Type": INDEX})
print(digest)
