#!/usr/bin/env bash
# System tools the tests run, installed from Debian when missing (needs root;
# otherwise it says what to install and the tests that need them fail in
# strict mode, naming the tool):
# - GNU time: the memory-bound test measures zoo's peak memory with it;
# - docker-registry (distribution 2.8.2) and skopeo: the OCI tests run a real
#   registry and a real client. The package starts a service on :5000 on every
#   interface: a policy-rc.d that exits 101 keeps it from starting; the tests
#   run their own instance on 127.0.0.1 with a config of their own;
# - openssl: the signing tests make their keys and test CA with it.
set -euo pipefail
missing=()
[ -x /usr/bin/time ] || missing+=(time)
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v openssl >/dev/null || missing+=(openssl)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "scripts/test-tools.sh: install ${missing[*]} (Debian packages of these names) for the tests that use them" >&2
  exit 0
fi
echo "==> apt-get install ${missing[*]}"
policy=/usr/sbin/policy-rc.d
had_policy=0
[ -e "$policy" ] && had_policy=1
if [ "$had_policy" = 0 ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
fi
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
if [ "$had_policy" = 0 ]; then rm -f "$policy"; fi
