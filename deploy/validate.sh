#!/usr/bin/env bash
# Offline validation of the deployment manifests with what Debian 12 has (no cluster, no engine):
#   compose: docker-compose 1.29 (Debian) `config` — its own Compose schema, references, syntax
#   k8s:     deploy/validate.py — YAML parse and a schema check against Debian's
#            python3-kubernetes models, plus limits/probes/hardening rules
# kubectl is not in Debian 12; `kubectl apply --dry-run=server` needs a cluster.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
(cd "$here/compose" && docker-compose -f compose.yaml config --quiet)
echo "compose: docker-compose $(docker-compose version --short) config: valid (services: $(cd "$here/compose" && docker-compose -f compose.yaml config --services | tr '\n' ' '))"
/usr/bin/python3 "$here/validate.py" "$here"
